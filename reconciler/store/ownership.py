"""The ownership ledger: the ownership marker of live objects that cannot carry one themselves.

Azure resources carry the tool's tags, VMM objects a marker in their Description; Azure Site Recovery's own objects
(replication policies, container and network mappings, protected items) take no tags at all. For those
the provider records here, keyed by the object's id (an ARM id, compared case-insensitively), that the
tool created the object and with which lifecycle (prune, protect): prune trusts this record exactly as it
trusts a tag. Each function is one short transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Boolean, Column, String, Table, delete, insert, select

from reconciler.store.db import Store, metadata
from reconciler.store.history import now

ownership_table = Table(
    "ownership",
    metadata,
    Column("object_id", String(1000), primary_key=True),  # casefolded
    Column("address", String(500), nullable=False),
    Column("prune", Boolean, nullable=False),
    Column("protect", Boolean, nullable=False),
    Column("recorded_at", String(40), nullable=False),
)


@dataclass(frozen=True)
class Marker:
    address: str
    prune: bool
    protect: bool


def record(store: Store, object_id: str, marker: Marker) -> None:
    """Remember that the tool owns ``object_id`` (replacing an older record)."""
    key = object_id.casefold()
    with store.engine.begin() as conn:
        conn.execute(delete(ownership_table).where(ownership_table.c.object_id == key))
        conn.execute(
            insert(ownership_table),
            {
                "object_id": key,
                "address": marker.address,
                "prune": marker.prune,
                "protect": marker.protect,
                "recorded_at": now(),
            },
        )


def forget(store: Store, object_id: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(delete(ownership_table).where(ownership_table.c.object_id == object_id.casefold()))


def lookup(store: Store, object_ids: Iterable[str]) -> dict[str, Marker]:
    """The recorded markers of ``object_ids``, keyed by casefolded id (unknown ids are absent)."""
    wanted = sorted({i.casefold() for i in object_ids})
    found: dict[str, Marker] = {}
    with store.engine.begin() as conn:
        for start in range(0, len(wanted), 500):  # bounded IN lists
            chunk = wanted[start : start + 500]
            for row in conn.execute(select(ownership_table).where(ownership_table.c.object_id.in_(chunk))).mappings():
                found[row["object_id"]] = Marker(row["address"], bool(row["prune"]), bool(row["protect"]))
    return found
