"""Where host procedures write their journal (``core.procedures``): the history store in a real run
(``store.journal.StoreJournal``), memory in tests and benchmarks. The engine depends on this protocol only."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Protocol

from reconciler.core.addresses import Address
from reconciler.core.procedures import ProcedureRecord


class Journal(Protocol):
    def write(self, record: ProcedureRecord) -> None:
        """Insert or update ``record`` (by id), durably, before the step it announces is taken."""
        ...

    def unfinished(self, addresses: Iterable[Address] | None = None) -> list[ProcedureRecord]:
        """Open procedures (of ``addresses``), oldest first."""
        ...


class MemoryJournal:
    """A journal that lives as long as the object (tests, benchmarks, runs without a store)."""

    def __init__(self) -> None:
        self.records: dict[str, ProcedureRecord] = {}
        self._lock = threading.Lock()

    def write(self, record: ProcedureRecord) -> None:
        with self._lock:
            self.records[record.id] = record

    def unfinished(self, addresses: Iterable[Address] | None = None) -> list[ProcedureRecord]:
        wanted = None if addresses is None else set(addresses)
        with self._lock:
            found = [r for r in self.records.values() if r.open and (wanted is None or r.address in wanted)]
        return sorted(found, key=lambda r: r.started_at)
