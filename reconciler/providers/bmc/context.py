"""What the BMC provider needs to know beyond one resource's desired fields, taken from the specs: each host's
BMC address and vendor (``hosts[].bmc``). Nothing here is secret: credentials come from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.core.errors import PermanentError
from reconciler.core.resources import Resource
from reconciler.spec.loader import SpecSet


@dataclass(frozen=True)
class BmcRef:
    """One host's BMC as its site's spec gives it."""

    site: str
    host: str
    address: str  # the spec's bmc.address (a login file may dial another: settings.BmcSettings.target)
    vendor: str  # dell, hpe, generic

    @property
    def scope(self) -> str:
        """Each BMC is an endpoint of its own: its read scope, so the engine reads BMCs in parallel."""
        return f"bmc/{self.address.rstrip('/').casefold()}"


@dataclass
class BmcContext:
    bmcs: dict[tuple[str, str], BmcRef] = field(default_factory=dict)  # (site, host casefolded)

    @classmethod
    def from_specs(cls, specs: SpecSet) -> BmcContext:
        ctx = cls()
        for site, doc in specs.sites.items():
            for host in doc.model.spec.hosts:
                if host.bmc is not None:
                    ref = BmcRef(site, host.name, host.bmc.address, host.bmc.vendor.value)
                    ctx.bmcs[(site, host.name.casefold())] = ref
        return ctx

    def bmc(self, resource: Resource) -> BmcRef:
        """The BMC of the host a ``bmc.bios:SITE/HOST`` resource configures."""
        site = resource.site or resource.address.scope
        ref = self.bmcs.get((site, resource.address.name.casefold()))
        if ref is None:
            raise PermanentError(
                f"{resource.address}: host {resource.address.name!r} of site {site!r} has no bmc block in its Site "
                "spec: add hosts[].bmc {address, vendor}",
                code="NoBmc",
            )
        return ref
