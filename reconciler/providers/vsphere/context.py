"""What the vSphere provider needs to know beyond one resource's desired fields, taken from the specs: which
vCenter manages each site's ESXi hosts (``spec.vcenter``). Which hosts are ESXi hosts (``platform: vsphere``) is
the route's business (``backend.py``). Nothing here is secret: credentials come from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.core.errors import PermanentError
from reconciler.core.resources import Resource
from reconciler.spec.loader import SpecSet

DEFAULT_PORT = 443


@dataclass(frozen=True)
class VCenterRef:
    """One vCenter as a site's spec names it."""

    site: str
    server: str
    port: int = DEFAULT_PORT

    @property
    def scope(self) -> str:
        """The read scope of everything this vCenter serves: one bulk read per kind covers all its hosts."""
        return f"vcenter/{self.server.casefold()}:{self.port}"


@dataclass
class VSphereContext:
    vcenters: dict[str, VCenterRef] = field(default_factory=dict)  # by site

    @classmethod
    def from_specs(cls, specs: SpecSet) -> VSphereContext:
        ctx = cls()
        for site, doc in specs.sites.items():
            spec = doc.model.spec
            if spec.vcenter is not None:
                ctx.vcenters[site] = VCenterRef(site, spec.vcenter.server, spec.vcenter.port)
        return ctx

    def vcenter(self, resource: Resource) -> VCenterRef:
        """The vCenter serving a per-host resource (``kind:SITE/HOST``); refused when the site names none
        (validation requires one for vSphere hosts, so only a resource from outside the specs gets here)."""
        site = resource.site or resource.address.scope
        ref = self.vcenters.get(site)
        if ref is None:
            raise PermanentError(
                f"{resource.address}: site {site!r} has no vcenter endpoint: add spec.vcenter to its Site spec",
                code="NoVCenter",
            )
        return ref
