"""The procedure journal in the history store: one row per multi-step host procedure (a BIOS rollout's
maintenance, staging, restart, confirmation), written ahead of each step by ``engine.procedures`` and
read by plan, drift and the next apply to find what a killed or failed run left half done.

Each write is one short transaction, never held across a step."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Boolean, Column, Index, String, Table, insert, select, update

from reconciler.core.addresses import Address
from reconciler.core.procedures import Outcome, ProcedureRecord, Step
from reconciler.store.db import Store, metadata

procedures_table = Table(
    "procedures",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("run_id", String(64), nullable=False),
    Column("procedure", String(64), nullable=False),
    Column("address", String(500), nullable=False),
    Column("host", String(500), nullable=False),
    Column("rollout_group", String(500), nullable=False),
    Column("step", String(40), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("ours", Boolean, nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("detail", String(2000), nullable=False),
    Index("ix_procedures_outcome", "outcome"),
)


def _row(r: ProcedureRecord) -> dict[str, object]:
    return {
        "id": r.id,
        "run_id": r.run_id,
        "procedure": r.procedure,
        "address": str(r.address),
        "host": str(r.host),
        "rollout_group": r.group,
        "step": r.step.value,
        "outcome": r.outcome.value,
        "ours": r.ours,
        "started_at": r.started_at,
        "updated_at": r.updated_at,
        "detail": r.detail[:2000],
    }


class StoreJournal:
    """The journal on an open store (``engine.journal.Journal``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def write(self, record: ProcedureRecord) -> None:
        """Insert or update ``record`` (by id)."""
        values = _row(record)
        with self.store.engine.begin() as conn:
            done = conn.execute(
                update(procedures_table).where(procedures_table.c.id == record.id).values(**values)
            ).rowcount
            if not done:
                conn.execute(insert(procedures_table), values)

    def unfinished(self, addresses: Iterable[Address] | None = None) -> list[ProcedureRecord]:
        """Every open procedure (or those carrying out ``addresses``), oldest first."""
        query = select(procedures_table).where(procedures_table.c.outcome == Outcome.OPEN.value)
        wanted = None if addresses is None else {str(a) for a in addresses}
        with self.store.engine.begin() as conn:
            rows = conn.execute(query.order_by(procedures_table.c.started_at)).mappings().all()
        return [_record(r) for r in rows if wanted is None or r["address"] in wanted]


def _record(r: object) -> ProcedureRecord:
    m = dict(r)  # type: ignore[call-overload]
    return ProcedureRecord(
        id=m["id"],
        run_id=m["run_id"],
        procedure=m["procedure"],
        address=Address.parse(m["address"]),
        host=Address.parse(m["host"]),
        group=m["rollout_group"],
        step=Step(m["step"]),
        outcome=Outcome(m["outcome"]),
        ours=bool(m["ours"]),
        started_at=m["started_at"],
        updated_at=m["updated_at"],
        detail=m["detail"],
    )
