"""The shape of an Azure kind handler, and the ASR family (the tagged family is ``tagged.py``).

``Handler`` is the provider's ``KindHandler`` (``providers.base``) in Azure's terms. A subclass says how to
list its kinds' read scope (``list_scope``: one list call, normalized), how to tell which listed object is
whose (``match``), how to fetch one object (``fetch``) and turn it into what the engine sees (``observe_one``),
and how to write (``put``) and delete one; the base turns those into the protocol's ``read``, ``read_one`` and
``apply``, where "absent" (a ``NotFoundError`` from the boundary) becomes None and the apply-time rules live (a
delete first, a replace refused unless the handler is ``replaceable``, the object read back after a write).

A step never reads the same object twice: the engine re-reads the object right before it writes (``read_one``),
and the write takes that answer (``current``) instead of asking again. The answer is kept per thread (the
engine runs a step's re-read and write on one worker thread), for one object, and used once.

- ``tagged.TaggedHandler``: Azure resources that carry the tool's ownership tags (vault, resource group,
  storage account, virtual network): owned by their tags, never changed without them.
- ``AsrHandler``: ASR's own objects in a site's vault (policies, mappings, protected items, recovery plans):
  vault-wide lists, owned by the ledger (``ledger.py``), each object attributed to the tenant whose cloud, VM
  network or subscription it concerns.
"""

from __future__ import annotations

import abc
import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.addresses import Address
from reconciler.core.changes import Action, ActionReason, ResourceChange
from reconciler.core.errors import NotFoundError, PermanentError
from reconciler.core.resources import Observed, Resource
from reconciler.providers.azure import arm, ledger
from reconciler.providers.azure.context import TenantRef, VaultRef
from reconciler.providers.azure.graph import Graph
from reconciler.providers.azure.jobs import Jobs
from reconciler.providers.azure.ledger import Ledger
from reconciler.providers.azure.namespaces import Registrations
from reconciler.providers.azure.normalize import Normalized
from reconciler.providers.azure.session import Family, Found, Session
from reconciler.providers.azure.topology import Topologies
from reconciler.providers.base import Progress, Step, absent_as_none
from reconciler.store import ownership


class Memo:
    """The object each thread last read for a step (``Handler.read_one``), for that step's write."""

    def __init__(self) -> None:
        self._local = threading.local()

    def keep(self, address: Address, found: Found | None) -> None:
        self._local.last = (address, found)

    def take(self, address: Address) -> tuple[bool, Found | None]:
        """(True, the object or None when it was absent) if this thread's last read was of ``address``; used
        once."""
        last = getattr(self._local, "last", None)
        self._local.last = None
        if last is not None and last[0] == address:
            return True, last[1]
        return False, None


@dataclass(frozen=True)
class Services:
    """What every handler of one provider shares: the clients, the job waiter, the ledger, the vaults' topology,
    the resource provider registrations, and the per-thread memo of a step's read."""

    session: Session
    jobs: Jobs
    ledger: Ledger
    topology: Topologies
    registrations: Registrations
    graph: Graph
    memo: Memo = field(default_factory=Memo)


def version(obj: Mapping[str, Any], n: Normalized) -> str:
    """The object's etag, or a digest of what the engine compares (a saved plan is refused when it moved)."""
    etag = obj.get("etag")
    if etag:
        return str(etag)
    digest = json.dumps({"data": n.data, "marker": n.status.get("marker")}, sort_keys=True, default=str)
    return hashlib.sha256(digest.encode()).hexdigest()[:16]


def observed(address: Address, obj: Mapping[str, Any], n: Normalized) -> Observed:
    return Observed(address=address, data=n.data, status=n.status, owned=n.owned, version=version(obj, n))


class Handler(abc.ABC):
    """One kind's (or family's) reads and writes; the provider's table sends it every resource of its kinds."""

    kinds: frozenset[str] = frozenset()
    replaceable = False  # whether a replace (delete, then create) is allowed: only where nothing is lost

    def __init__(self, services: Services) -> None:
        self.session = services.session
        self.jobs = services.jobs
        self.ledger = services.ledger
        self.topology = services.topology
        self.registrations = services.registrations
        self.graph = services.graph
        self.memo = services.memo

    @abc.abstractmethod
    def read_scope(self, resource: Resource) -> str:
        """What one list call covers for ``resource`` (the engine reads each scope once)."""

    @abc.abstractmethod
    def list_scope(self, first: Resource) -> list[Found]:
        """The list call covering ``first``'s read scope, every page, normalized."""

    @abc.abstractmethod
    def match(self, resources: Sequence[Resource], found: list[Found]) -> dict[Address, Observed | None]:
        """Each asked resource's object (None: absent), and the objects nobody asked for that are ours."""

    @abc.abstractmethod
    def fetch(self, resource: Resource) -> Found | None:
        """One object, as cheaply as the API allows (a GET, a list in its own container); NotFoundError or None
        when absent."""

    @abc.abstractmethod
    def observe_one(self, resource: Resource, found: Found) -> Observed:
        """What the engine sees of a fetched object (ownership marked)."""

    @abc.abstractmethod
    def put(self, resource: Resource, step: Step, report: Progress) -> None:
        """Create or update the object to the spec (idempotent: it may find its work done)."""

    @abc.abstractmethod
    def delete(self, address: Address, resource: Resource, report: Progress, *, pruning: bool) -> None:
        """Delete what the tool owns. ``pruning`` False: the first half of a replace the planner allowed."""

    @abc.abstractmethod
    def adopt(self, resource: Resource, report: Progress) -> None:
        """Mark an object made outside the tool as the tool's, with the spec's lifecycle, and change nothing else
        (``NotFoundError`` when it does not exist)."""

    def read(self, resources: Sequence[Resource]) -> dict[Address, Observed | None]:
        """The bulk read: one list call for the resources' scope; a missing parent reads as an empty list."""
        found: list[Found] = []
        with absent_as_none():
            found = self.list_scope(resources[0])
        return self.match(resources, found)

    def _fetch(self, resource: Resource) -> Found | None:
        with absent_as_none():
            return self.fetch(resource)
        return None

    def read_one(self, resource: Resource) -> Observed | None:
        """One object, as the engine re-reads it right before changing it: never the scope-wide list a plan
        uses (at a thousand tenants that would make every step cost the vault). Kept for the step's write."""
        found = self._fetch(resource)
        self.memo.keep(resource.address, found)
        return self.observe_one(resource, found) if found is not None else None

    def current(self, resource: Resource) -> Found | None:
        """The object as this step's re-read found it (None: absent); fetched only when the step did not read it
        (a write called on its own)."""
        hit, found = self.memo.take(resource.address)
        return found if hit else self._fetch(resource)

    def apply(self, change: ResourceChange, resource: Resource, progress: Progress) -> Observed | None:
        if change.action is Action.DELETE:
            # The first half of a replace run ahead of a dependency's change (the planner's ``vacates``) is a
            # delete the planner allowed, like any replace; only a prune needs the ownership marker.
            pruning = change.action_reason is not ActionReason.REPLACE
            self.registrations.retrying(
                lambda: self.delete(change.address, resource, progress, pruning=pruning), progress
            )
            return None
        if change.action is Action.ADOPT:
            self.adopt(resource, progress)
        else:
            if change.action is Action.REPLACE:
                if not self.replaceable:
                    raise PermanentError(
                        f"{change.address}: {change.reason}; replacing it would delete it and what it holds, which "
                        "reconciler never does to Azure resources: recreate it by hand, or change the spec back",
                        code="ReplaceRefused",
                    )
                self.delete(change.address, resource, progress, pruning=False)
            self.registrations.retrying(lambda: self.put(resource, Step(change), progress), progress)
        self.written(resource)
        found = self._fetch(resource)  # a read after the write: what the write did, not a repeat
        if found is None:
            raise PermanentError(f"{resource.address} was written but does not read back", code="NotReadBack")
        return self.observe_one(resource, found)

    def written(self, resource: Resource) -> None:  # noqa: B027 (a hook: the ASR family records as it writes)
        """After a successful write (default: nothing; the tagged family records the object in the ledger)."""


def vault_scope(resource: Resource) -> str:
    """The read scope of everything in a site's vault (the vault itself, and ASR's objects in it)."""
    return f"vault/{resource.site or resource.address.scope}"


class AsrHandler(Handler):
    """ASR's objects in the site's vault: one vault-wide list per kind, each object attributed to a tenant."""

    def read_scope(self, resource: Resource) -> str:
        return vault_scope(resource)

    def list_scope(self, first: Resource) -> list[Found]:
        vault = self.session.vault(first.site or first.address.scope)
        return self.list_vault(vault, self.session.vault_client(Family.ASR, vault))

    @abc.abstractmethod
    def list_vault(self, vault: VaultRef, asr: Any) -> list[Found]:
        """The vault-wide list of the kind (``asr``: the vault's Site Recovery client)."""

    @abc.abstractmethod
    def tenant_of(self, site: str, n: Normalized) -> str | None:
        """Whose object it is (VM names repeat across tenants): None when no tenant of the specs claims it."""

    @abc.abstractmethod
    def get_in_vault(self, resource: Resource, tenant: TenantRef, vault: VaultRef) -> Found | None:
        """The resource's object in the vault, without a vault-wide list."""

    @abc.abstractmethod
    def remove(self, address: Address, seen: Observed, vault: VaultRef, report: Progress) -> str | None:
        """Delete the object ``seen``; the ARM id whose ledger record goes with it (None: nothing was there)."""

    def adjust(self, resource: Resource, n: Normalized) -> None:
        """Fill in what ASR does not keep on the object but the spec declares (default: nothing)."""

    def match(self, resources: Sequence[Resource], found: list[Found]) -> dict[Address, Observed | None]:
        first = resources[0]
        site = first.site or first.address.scope
        markers = self.ledger.lookup(str(o.get("id", "")) for o, _ in found)
        scopes = {r.address.scope for r in resources}
        by_key: dict[tuple[str, str], Found] = {}
        for obj, n in found:
            tenant = self.tenant_of(site, n)
            if tenant is not None:
                by_key.setdefault((tenant, n.name.casefold()), (obj, n))
        out: dict[Address, Observed | None] = {}
        for r in resources:
            hit = by_key.pop((r.address.scope, r.address.name.casefold()), None)
            if hit is None:
                out[r.address] = None
                continue
            self.adjust(r, hit[1])
            out[r.address] = self.observe(r.address, *hit, markers)
        for (tenant, _), (obj, n) in by_key.items():
            if tenant in scopes:
                address = Address(first.kind, tenant, n.name)
                out.setdefault(address, self.observe(address, obj, n, markers))
        return out

    def fetch(self, resource: Resource) -> Found | None:
        tenant = self.session.tenant(resource.tenant or resource.address.scope)
        return self.get_in_vault(resource, tenant, self.session.vault(tenant.site))

    def observe_one(self, resource: Resource, found: Found) -> Observed:
        obj, n = found
        self.adjust(resource, n)
        return self.observe(resource.address, obj, n, self.ledger.lookup([str(obj.get("id", ""))]))

    @staticmethod
    def observe(
        address: Address, obj: Mapping[str, Any], n: Normalized, markers: Mapping[str, ownership.Marker]
    ) -> Observed:
        return observed(address, obj, ledger.mark(n, str(obj.get("id", "")), markers))

    def delete(self, address: Address, resource: Resource, report: Progress, *, pruning: bool) -> None:
        vault = self.session.vault(self.session.tenant(address.scope).site)
        found = self.current(resource)
        if found is None:
            return
        seen = self.observe_one(resource, found)
        if pruning and not seen.owned:
            raise PermanentError(f"{address} was not created by reconciler: not deleting it", code="NotOwned")
        object_id = self.remove(address, seen, vault, report)
        if object_id is not None:
            self.ledger.forget(object_id)

    def adopt(self, resource: Resource, report: Progress) -> None:
        """An ASR object made by hand becomes the tool's through the ownership ledger (it takes no tags)."""
        tenant = self.session.tenant(resource.tenant or resource.address.scope)
        hit = self.get_in_vault(resource, tenant, self.session.vault(tenant.site))
        if hit is None:
            raise NotFoundError(f"{resource.address} does not exist: nothing to adopt", code="NotFound")
        self.own(resource, str(hit[0].get("id", "")))

    def vault_of(self, resource: Resource) -> tuple[VaultRef, Any]:
        """The vault serving the resource's site, and its Site Recovery client."""
        vault = self.session.vault(resource.site or self.session.tenant(resource.tenant).site)
        return vault, self.session.vault_client(Family.ASR, vault)

    def own(self, resource: Resource, object_id: str) -> None:
        """Record in the ledger that the tool wrote ``object_id`` for ``resource``."""
        self.ledger.record(object_id, ledger.marker(resource))

    def storage_id(self, tenant: TenantRef, name: str) -> str:
        """The ARM id of a storage account in the tenant's recovery resource group."""
        if tenant.resource_group is None:
            raise PermanentError(f"tenant {tenant.name} has no recovery resource group", code="NoRecovery")
        return arm.storage_account_id(tenant.subscription, tenant.resource_group, name)


__all__ = ["AsrHandler", "Handler", "Memo", "Services", "Step", "observed", "vault_scope"]
