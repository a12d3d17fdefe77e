"""The site's VMM server as its vault knows it (``asr.vmm_server``): registered (a fabric of type VMM named after
the server) or not, and the Azure Site Recovery Provider installed on it.

Registration happens on the VMM server itself (the vault settings file, ``AzureSiteRecoveryProvider.exe``,
``DRConfigurator.exe /r``): the tool can only check it. The kind is configure-only, so a server the vault does
not know is a plan error naming those steps (``KindInfo.missing``), and every ASR object that lives under the
server's fabric waits for it. The providers (``replicationRecoveryServicesProviders``: version, its support
state and expiry, last heartbeat, connection) come with the read, for drift's health report.

Read: two vault-wide lists (fabrics, Recovery Services providers), for the bulk read and the single read alike.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence

from reconciler.core.addresses import Address
from reconciler.core.errors import PermanentError
from reconciler.core.resources import Observed, Resource
from reconciler.providers.azure import arm, normalize
from reconciler.providers.azure.handler import Handler, Services, observed, vault_scope
from reconciler.providers.azure.session import Family, Found, list_all, plain
from reconciler.providers.base import Progress, Step


class VmmServerHandler(Handler):
    kinds = frozenset({"asr.vmm_server"})

    def __init__(
        self, services: Services, *, now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)
    ) -> None:
        super().__init__(services)
        self._now = now

    def read_scope(self, resource: Resource) -> str:
        return vault_scope(resource)

    def list_scope(self, first: Resource) -> list[Found]:
        vault = self.session.vault(first.site or first.address.scope)
        asr = self.session.vault_client(Family.ASR, vault)
        rg, name = vault.resource_group, vault.name
        now = self._now()
        with arm.boundary(f"list ASR providers in vault {name}"):
            providers = [
                normalize.recovery_services_provider(plain(p), now)
                for p in asr.replication_recovery_services_providers.list(rg, name)
            ]
        return list_all(
            f"list fabrics in vault {name}",
            lambda: asr.replication_fabrics.list(rg, name),
            lambda o: normalize.vmm_server(o, name, providers),
        )

    def match(self, resources: Sequence[Resource], found: list[Found]) -> dict[Address, Observed | None]:
        by_name = {n.name.casefold(): (o, n) for o, n in found}
        out: dict[Address, Observed | None] = {}
        for r in resources:
            hit = by_name.get(r.address.name.casefold())
            out[r.address] = observed(r.address, *hit) if hit is not None else None
        return out

    def fetch(self, resource: Resource) -> Found | None:
        return next(
            (f for f in self.list_scope(resource) if f[1].name.casefold() == resource.address.name.casefold()), None
        )

    def observe_one(self, resource: Resource, found: Found) -> Observed:
        return observed(resource.address, *found)

    def put(self, resource: Resource, step: Step, report: Progress) -> None:
        raise PermanentError(
            f"{resource.address}: a VMM server is registered with its vault on the server itself "
            "(DRConfigurator.exe), not through Azure: see docs/azure.md",
            code="RegisterOnTheServer",
        )

    def delete(self, address: Address, resource: Resource, report: Progress, *, pruning: bool) -> None:
        raise PermanentError(f"{address}: reconciler never unregisters a VMM server", code="NotOwned")

    def adopt(self, resource: Resource, report: Progress) -> None:
        raise PermanentError(
            f"{resource.address}: a VMM server's registration is checked, never owned", code="NotOwned"
        )
