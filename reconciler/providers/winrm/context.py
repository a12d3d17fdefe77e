"""What the WinRM provider needs to know beyond one resource's desired fields, taken from the specs: each
site's VMM server (and how the specs say to reach it), its Hyper-V hosts, and which tenant owns which cloud
and VM network (VMM lists every tenant's objects in one answer; the engine addresses them per tenant).
Nothing here is secret."""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.core.errors import PermanentError
from reconciler.spec.loader import SpecSet
from reconciler.spec.models.site import Platform


@dataclass(frozen=True)
class SiteRef:
    name: str
    server: str  # the VMM server, as the specs name it (spec.vmm.server)
    scheme: str | None  # spec.vmm.transport when the spec sets it; None: the environment decides
    port: int | None  # spec.vmm.port when the spec sets it
    hyperv_hosts: tuple[str, ...] = ()  # hosts with platform hyperv, as the specs name them


@dataclass(frozen=True)
class TenantRef:
    name: str
    site: str
    cloud: str
    vm_networks: tuple[str, ...] = ()


@dataclass
class WinRMContext:
    sites: dict[str, SiteRef] = field(default_factory=dict)
    tenants: dict[str, TenantRef] = field(default_factory=dict)

    @classmethod
    def from_specs(cls, specs: SpecSet) -> WinRMContext:
        ctx = cls()
        for name, doc in specs.sites.items():
            vmm = doc.model.spec.vmm
            given = vmm.model_fields_set
            ctx.sites[name] = SiteRef(
                name=name,
                server=vmm.server,
                scheme=vmm.transport if "transport" in given else None,
                port=vmm.port if "port" in given else None,
                hyperv_hosts=tuple(h.name for h in doc.model.spec.hosts if h.platform is Platform.HYPERV),
            )
        for name, tdoc in specs.tenants.items():
            t = tdoc.model.spec
            ctx.tenants[name] = TenantRef(name, t.site, t.cloud.name, tuple(n.name for n in t.vm_networks))
        return ctx

    def site(self, name: str) -> SiteRef:
        """The site's VMM server; PermanentError when the specs hold no such site."""
        ref = self.sites.get(name)
        if ref is None:
            raise PermanentError(f"no Site document named {name!r}: which VMM server serves it?", code="NoSite")
        return ref

    def site_of(self, scope: str) -> SiteRef:
        """The site of a site or tenant scope."""
        tenant = self.tenants.get(scope)
        return self.site(tenant.site if tenant is not None else scope)

    def tenant_of_cloud(self, site: str, cloud: str) -> str | None:
        wanted = cloud.casefold()
        return next((t.name for t in self.tenants.values() if t.site == site and t.cloud.casefold() == wanted), None)

    def tenant_of_vm_network(self, site: str, network: str) -> str | None:
        wanted = network.casefold()
        return next(
            (
                t.name
                for t in self.tenants.values()
                if t.site == site and wanted in {n.casefold() for n in t.vm_networks}
            ),
            None,
        )

    def site_of_host(self, host: str) -> str | None:
        wanted = host.casefold()
        return next((s.name for s in self.sites.values() if wanted in {h.casefold() for h in s.hyperv_hosts}), None)
