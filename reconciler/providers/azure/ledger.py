"""The ownership ledger: what the tool created among Azure Site Recovery's objects, which take no tags.

A vault, resource group, storage account or virtual network says it is ours with its tags
(``normalize.ownership``). A replication policy, a container or network mapping and a protected item cannot
carry tags: the provider records each one it writes here, keyed by its ARM id (casefolded), with the spec's
prune/protect lifecycle, and a read marks the objects it finds here as owned, which is what prune trusts.
``StoreLedger`` keeps the records in the history store (``store.ownership``); ``MemoryLedger`` keeps them for
one process (tests, a provider opened without a store).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from reconciler.core.resources import Resource
from reconciler.providers.azure import normalize
from reconciler.providers.azure.normalize import Normalized
from reconciler.store import ownership
from reconciler.store.db import Store


class Ledger(Protocol):
    def record(self, object_id: str, marker: ownership.Marker) -> None: ...

    def forget(self, object_id: str) -> None: ...

    def lookup(self, object_ids: Iterable[str]) -> dict[str, ownership.Marker]:
        """The records of those of ``object_ids`` the ledger holds, by casefolded id."""
        ...


class MemoryLedger:
    """The ownership ledger without a store (tests, or a run that must not write one)."""

    def __init__(self) -> None:
        self.markers: dict[str, ownership.Marker] = {}

    def record(self, object_id: str, marker: ownership.Marker) -> None:
        self.markers[object_id.casefold()] = marker

    def forget(self, object_id: str) -> None:
        self.markers.pop(object_id.casefold(), None)

    def lookup(self, object_ids: Iterable[str]) -> dict[str, ownership.Marker]:
        return {i.casefold(): self.markers[i.casefold()] for i in object_ids if i.casefold() in self.markers}


class StoreLedger:
    """The ownership ledger in the history store, shared by every run against the same store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, object_id: str, marker: ownership.Marker) -> None:
        ownership.record(self.store, object_id, marker)

    def forget(self, object_id: str) -> None:
        ownership.forget(self.store, object_id)

    def lookup(self, object_ids: Iterable[str]) -> dict[str, ownership.Marker]:
        return ownership.lookup(self.store, object_ids)


def marker(resource: Resource) -> ownership.Marker:
    """The record for an object written for ``resource``: its address and its lifecycle."""
    return ownership.Marker(str(resource.address), resource.policy.prune, resource.policy.protect)


def mark(n: Normalized, object_id: str, markers: Mapping[str, ownership.Marker]) -> Normalized:
    """``n`` owned, with the same marker a tag would give it, when the ledger holds ``object_id``."""
    found = markers.get(object_id.casefold())
    if found is not None:
        n.owned = True
        n.status["marker"] = {"managedBy": normalize.TOOL, "prune": found.prune, "protect": found.protect}
    return n
