"""The tagged family: Azure resources that carry the tool's ownership tags (vault, resource groups, storage
accounts, virtual networks).

An object is the tool's when it carries ``managed-by: reconciler``; one without the tag was made by someone
else and is reported, never changed. The tool also records each object it writes in the ownership ledger
(``ledger.py``), so that an object it created whose tags someone removed is still known as its own: it reads
as owned with its marker lost (``status["markerLost"]``), which the planner turns into a change putting the
tags back (and drift reports as changed outside the tool), instead of an object that suddenly reads in sync.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reconciler.core.addresses import Address
from reconciler.core.errors import PermanentError
from reconciler.core.resources import Observed, Resource
from reconciler.providers.azure import ledger, normalize
from reconciler.providers.azure.handler import Handler, observed
from reconciler.providers.azure.normalize import Normalized
from reconciler.providers.azure.session import Found
from reconciler.providers.base import Progress
from reconciler.store import ownership

# The status key naming what of an owned object's marker is gone (``engine.planner.MARKER_LOST`` reads it).
MARKER_LOST = "markerLost"


class TaggedHandler(Handler):
    """Kinds whose objects carry the tool's tags; ``scope_tag`` is the tag naming their tenant or site."""

    scope_tag = normalize.TAG_TENANT
    # Whether every object the scope's list returns is the tool's business, tagged or not: a tenant's recovery
    # resource group is declared in the specs, so an object someone put there is reported as not declared.
    reports_foreign = False

    @abc.abstractmethod
    def arm_id(self, resource: Resource) -> str:
        """The ARM id of the resource's object (what the ledger records)."""

    def scope_tag_of(self, resource: Resource) -> str:
        return self.scope_tag

    def mark(self, obj: Mapping[str, Any], n: Normalized, markers: Mapping[str, ownership.Marker]) -> Normalized:
        """``n`` with the ledger's marker when its tags no longer say it is ours but the ledger does."""
        object_id = str(obj.get("id", ""))
        if n.owned or object_id.casefold() not in markers:
            return n
        ledger.mark(n, object_id, markers)
        n.status[MARKER_LOST] = f"{normalize.MANAGED_BY}={normalize.TOOL}"
        return n

    def match(self, resources: Sequence[Resource], found: list[Found]) -> dict[Address, Observed | None]:
        """Each asked resource's object by name; objects nobody asked for when they are ours (tags or ledger) for
        a scope asked about (a customer's subscription holds much that is not ours), or when the whole listed
        scope is (``reports_foreign``)."""
        out: dict[Address, Observed | None] = {}
        scopes = {r.address.scope for r in resources}
        kind = resources[0].kind
        markers = self.ledger.lookup(str(o.get("id", "")) for o, _ in found)
        by_name = {n.name.casefold(): (o, self.mark(o, n, markers)) for o, n in found}
        for r in resources:
            hit = by_name.pop(r.address.name.casefold(), None)
            out[r.address] = observed(r.address, *hit) if hit is not None else None
        for obj, n in by_name.values():
            if (n.owned or self.reports_foreign) and n.scope in scopes:
                address = Address(kind, n.scope, n.name)
                out.setdefault(address, observed(address, obj, n))
        return out

    def observe_one(self, resource: Resource, found: Found) -> Observed:
        obj, n = found
        return observed(resource.address, obj, self.mark(obj, n, self.ledger.lookup([str(obj.get("id", ""))])))

    def tags(self, resource: Resource, existing: Mapping[str, Any] | None) -> dict[str, str]:
        """The object's tags with the tool's own set (others' tags are kept)."""
        ours = normalize.owner_tags(
            scope_tag=self.scope_tag_of(resource),
            scope=resource.address.scope,
            prune=resource.policy.prune,
            protect=resource.policy.protect,
        )
        keep = {
            k: v
            for k, v in ((existing or {}).get("tags") or {}).items()
            if k.casefold() not in {t.casefold() for t in ours}
        }
        return {**keep, **ours}

    @abc.abstractmethod
    def wire(self, resource: Resource) -> dict[str, Any]:
        """The object as ARM returns it (``NotFoundError`` when absent): what its tags are merged into."""

    @abc.abstractmethod
    def write_tags(self, resource: Resource, tags: dict[str, str], report: Progress) -> None:
        """Replace the object's tags with ``tags`` (a PATCH of the tags alone: nothing else on it changes)."""

    def adopt(self, resource: Resource, report: Progress) -> None:
        """The tool's tags on an object made by hand, its other tags kept: how a tagged kind is adopted."""
        self.write_tags(resource, self.tags(resource, self.wire(resource)), report)

    def refuse_foreign(self, address: Address, existing: Mapping[str, Any] | None) -> None:
        """Never change an object that lacks the tool's tags and that the ledger does not know either (the
        planner holds these too)."""
        if existing is None or normalize.ownership(existing, normalize.TAG_TENANT)[0]:
            return
        if self.ledger.lookup([str(existing.get("id", ""))]):
            return  # ours, its tags removed: the write puts them back
        raise PermanentError(
            f"{address} exists without the managed-by=reconciler tag: not changing it (tag it to adopt it)",
            code="NotOwned",
        )

    def existing(self, resource: Resource) -> dict[str, Any] | None:
        """The object as the step's re-read found it (wire JSON), or None."""
        found = self.current(resource)
        return found[0] if found is not None else None

    def delete_owned(self, address: Address, resource: Resource, *, remove: Callable[[], Any]) -> None:
        """Delete the resource's object, if it exists and is the tool's."""
        existing = self.existing(resource)
        if existing is None:
            return
        self.refuse_foreign(address, existing)
        remove()
        self.ledger.forget(str(existing.get("id", "")))

    def written(self, resource: Resource) -> None:
        self.ledger.record(self.arm_id(resource), ledger.marker(resource))
