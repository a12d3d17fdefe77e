"""The ownership ledger, as backends use it: where the tool records that it created a live object that cannot
carry its ownership marker itself (an Azure Site Recovery policy takes no tags; a VMM network site has no
Description). Records live in the history store (``store.ownership``), keyed by the object's id, with the
spec's prune/protect lifecycle; a read marks the objects it finds here as owned, which is what prune trusts.
``StoreLedger`` keeps them in the store; ``MemoryLedger`` for one process (tests, a provider opened without a
store)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from reconciler.core.resources import Resource
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
