"""Run history: one ``runs`` row per plan, apply or drift, one ``steps`` row per apply step result, per resource
what the tool last applied (``last_applied``, the desired fields, redacted by the caller), and per plan or
drift run the report it produced (``reports``: the plan or drift JSON document, redacted by the caller).

Every function is one short transaction of its own: an apply records as it goes and never holds a
transaction across a step. Times are ISO 8601 UTC with microseconds (they sort as text); JSON columns
are text. Each function takes an open ``store``, or opens (and closes) the default one without it.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import RowMapping

from reconciler.core import jsontext
from reconciler.store.db import Store, metadata, open_store

KINDS = ("plan", "apply", "drift", "drill")
"""A run's ``kind``."""

RESULTS: dict[str, tuple[str, ...]] = {
    "apply": ("ok", "failed", "held", "interrupted"),
    "plan": ("ok", "changes", "error"),
    "drift": ("in-sync", "drift", "error"),
    "drill": ("passed", "failed", "error", "interrupted"),
}
"""A finished run's ``result`` per kind; ``None`` while it runs (or when its process died)."""

runs_table = Table(
    "runs",
    metadata,
    Column("id", String(64), primary_key=True),  # the apply's run_id
    Column("kind", String(10), nullable=False, index=True),  # KINDS
    Column("started_at", String(40), nullable=False),
    Column("finished_at", String(40), nullable=True),
    Column("user", String(255), nullable=False),
    Column("host", String(255), nullable=False),
    Column("spec_digest", String(128), nullable=True),
    Column("spec_commit", String(64), nullable=True),  # git HEAD of the spec folder, if it is in a repository
    Column("result", String(20), nullable=True),  # RESULTS[kind]
    Column("counts", Text, nullable=True),  # JSON: steps per result, {"done": 3, "held": 1}
    Column("duration_s", Float, nullable=True),
    Column("pid", Integer, nullable=True),  # the process running it (an apply), to tell when it died
    Column("process_started", String(64), nullable=True),  # that process's start time (store.liveness)
)

steps_table = Table(
    "steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), ForeignKey("runs.id"), nullable=False, index=True),
    Column("address", String(500), nullable=False),
    Column("action", String(20), nullable=False),
    Column("result", String(30), nullable=False),
    Column("message", Text, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("started_at", String(40), nullable=False),
)

last_applied_table = Table(
    "last_applied",
    metadata,
    Column("address", String(500), primary_key=True),
    Column("desired", Text, nullable=False),  # JSON
    Column("applied_at", String(40), nullable=False),
    Column("run_id", String(64), ForeignKey("runs.id"), nullable=False),
)

reports_table = Table(
    "reports",
    metadata,
    Column("run_id", String(64), ForeignKey("runs.id"), primary_key=True),
    Column("format_version", Integer, nullable=False),
    Column("document", Text, nullable=False),  # JSON: the plan or drift document; "" when compressed
    Column("compressed", LargeBinary, nullable=True),  # the document's JSON, zlib-compressed (rows since 0005)
)

REPORTS_KEPT = 200
"""Report documents kept by default: those of the newest plan and drift runs (their ``runs`` rows stay)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    run_id: str
    address: str
    action: str
    result: str
    message: str
    duration_s: float
    attempts: int
    started_at: str

    @classmethod
    def from_row(cls, row: RowMapping) -> Step:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, slots=True)
class Run:
    """One run; ``steps`` is filled by :func:`get_run` only (``list_runs`` leaves it empty)."""

    id: str
    kind: str
    started_at: str
    finished_at: str | None
    user: str
    host: str
    spec_digest: str | None
    spec_commit: str | None
    result: str | None
    counts: dict[str, int] | None
    duration_s: float | None
    steps: tuple[Step, ...] = ()

    @classmethod
    def from_row(cls, row: RowMapping, steps: Iterable[Step] = ()) -> Run:
        return cls(
            id=row["id"],
            kind=row["kind"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            user=row["user"],
            host=row["host"],
            spec_digest=row["spec_digest"],
            spec_commit=row["spec_commit"],
            result=row["result"],
            counts=json.loads(row["counts"]) if row["counts"] else None,
            duration_s=row["duration_s"],
            steps=tuple(steps),
        )

    def to_dict(self, *, with_steps: bool = False) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "steps"}
        if with_steps:
            out["steps"] = [s.to_dict() for s in self.steps]
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class Applied:
    """What the tool last applied to one resource."""

    address: str
    desired: dict[str, Any]
    applied_at: str
    run_id: str


def now() -> str:
    """The current time as stored (ISO 8601, UTC, microseconds: fixed width, so text order is time order)."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


encode_json = _json
"""How JSON columns (``counts``) are written."""


@contextmanager
def _opened(store: Store | None) -> Iterator[Store]:
    if store is not None:
        yield store
        return
    with open_store(None) as db:
        yield db


def record_run_start(
    run_id: str,
    *,
    kind: str,
    user: str,
    host: str,
    spec_digest: str | None = None,
    spec_commit: str | None = None,
    started_at: str | None = None,
    store: Store | None = None,
    pid: int | None = None,
    process_started: str | None = None,
) -> None:
    """A run begins (``kind``: one of :data:`KINDS`); its result stays empty until :func:`record_run_end`.
    ``pid`` and ``process_started``: the process running it, so that a later command can tell it died
    (``store.recovery``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown run kind {kind!r}")
    row = {
        "id": run_id,
        "kind": kind,
        "started_at": started_at or now(),
        "user": user[:255],
        "host": host[:255],
        "spec_digest": spec_digest,
        "spec_commit": spec_commit,
        "pid": pid,
        "process_started": process_started,
    }
    with _opened(store) as db, db.engine.begin() as conn:
        conn.execute(insert(runs_table), row)


def record_step(
    run_id: str,
    *,
    address: str,
    action: str,
    result: str,
    message: str = "",
    duration_s: float = 0.0,
    attempts: int = 1,
    started_at: str | None = None,
    store: Store | None = None,
) -> None:
    """One step's result (an apply writes them in batches: :func:`record_batch`)."""
    step: dict[str, Any] = {"address": address, "action": action, "result": result, "message": message}
    step |= {"duration_s": duration_s, "attempts": attempts, "started_at": started_at}
    record_batch(run_id, steps=[step], store=store)


def record_run_end(
    run_id: str,
    *,
    result: str,
    counts: Mapping[str, int],
    duration_s: float,
    finished_at: str | None = None,
    store: Store | None = None,
) -> None:
    """A run ends with ``result`` (one of :data:`RESULTS` for its kind) and its counts (apply: steps per
    result; plan: changes per action; drift: resources per class)."""
    if not any(result in allowed for allowed in RESULTS.values()):
        raise ValueError(f"unknown run result {result!r}")
    values = {"finished_at": finished_at or now(), "result": result, "counts": _json(dict(counts))}
    with _opened(store) as db, db.engine.begin() as conn:
        kind = conn.execute(select(runs_table.c.kind).where(runs_table.c.id == run_id)).scalar()
        if kind is not None and result not in RESULTS.get(kind, ()):
            raise ValueError(f"unknown run result {result!r} for a {kind} run")
        conn.execute(update(runs_table).where(runs_table.c.id == run_id).values(duration_s=duration_s, **values))


def record_report(
    run_id: str, document: Mapping[str, Any], *, store: Store | None = None, keep: int = REPORTS_KEPT
) -> None:
    """The report a plan or drift run produced (its JSON document, already redacted), kept to render again:
    compressed (JSON compresses about 13 times), and only the newest ``keep`` reports stay (0: none), so that
    a drift scheduled every few minutes on a large estate does not fill the disk."""
    row: dict[str, Any] | None = None
    if keep > 0:  # encoded before the transaction: it holds the store's write lock
        # Keys in the document's order (not sorted): a renderer shows fields in the order they came.
        data = jsontext.dumps_bytes(dict(document))
        row = {
            "run_id": run_id,
            "format_version": int(document.get("formatVersion") or 0),
            "document": "",
            # The fastest level: 35 MB of JSON in 0.17 s, to 2.7 MB (level 6: 1.6 MB in 0.44 s).
            "compressed": zlib.compress(data, 1),
        }
    with _opened(store) as db, db.engine.begin() as conn:  # one transaction: replace the row, drop the oldest
        conn.execute(delete(reports_table).where(reports_table.c.run_id == run_id))
        if row is not None:
            conn.execute(insert(reports_table), row)
        older = (
            conn.execute(
                select(reports_table.c.run_id)
                .join(runs_table, runs_table.c.id == reports_table.c.run_id)
                .order_by(runs_table.c.started_at.desc(), runs_table.c.id.desc())
                .offset(keep)
            )
            .scalars()
            .all()
        )
        for i in range(0, len(older), 500):  # bounded: a database caps the parameters of one statement
            conn.execute(delete(reports_table).where(reports_table.c.run_id.in_(older[i : i + 500])))


def get_report(run_id: str, *, store: Store | None = None) -> dict[str, Any] | None:
    """The stored report document of a plan or drift run, or None (an apply run, or none kept)."""
    with _opened(store) as db, db.engine.begin() as conn:
        row = conn.execute(
            select(reports_table.c.document, reports_table.c.compressed).where(reports_table.c.run_id == run_id)
        ).one_or_none()
    if row is None:
        return None
    text = (
        zlib.decompress(row.compressed).decode("utf-8", "surrogatepass") if row.compressed is not None else row.document
    )
    document = jsontext.loads(text)
    return document if isinstance(document, dict) else None


def record_applied(address: str, desired: Mapping[str, Any], run_id: str, *, store: Store | None = None) -> None:
    """``desired`` (already redacted) is now what the tool last applied to ``address``."""
    record_batch(run_id, applied={address: desired}, store=store)


def record_batch(
    run_id: str,
    *,
    steps: Sequence[Mapping[str, Any]] = (),
    applied: Mapping[str, Mapping[str, Any]] | None = None,
    forgotten: Iterable[str] = (),
    store: Store | None = None,
    at: str | None = None,
) -> None:
    """Many rows in one transaction, as an apply run buffers them: ``steps`` (the keyword arguments of
    :func:`record_step`), what is now applied to each address (``applied``: desired fields, already
    redacted) and the addresses deleted (``forgotten``). An address is in at most one of the two. ``at``
    (default now) times the applied rows and the steps that carry no ``started_at``."""
    applied = applied or {}
    gone = sorted({*applied, *forgotten})
    stamp = at or now()
    step_rows = [
        {
            "run_id": run_id,
            "address": str(step["address"])[:500],
            "action": step["action"],
            "result": step["result"],
            "message": step.get("message", ""),
            "duration_s": step.get("duration_s", 0.0),
            "attempts": step.get("attempts", 1),
            "started_at": step.get("started_at") or stamp,
        }
        for step in steps
    ]
    applied_rows = [
        {"address": address, "desired": _json(dict(desired)), "applied_at": stamp, "run_id": run_id}
        for address, desired in applied.items()
    ]
    with _opened(store) as db, db.engine.begin() as conn:
        if step_rows:
            conn.execute(insert(steps_table), step_rows)
        for i in range(0, len(gone), _IN_CHUNK):
            conn.execute(delete(last_applied_table).where(last_applied_table.c.address.in_(gone[i : i + _IN_CHUNK])))
        if applied_rows:
            conn.execute(insert(last_applied_table), applied_rows)


_IN_CHUNK = 500  # addresses per IN (...) list: far below any database's parameter limit


def forget_applied(address: str, *, store: Store | None = None) -> None:
    """The resource was deleted (pruned): nothing is applied to it any more."""
    with _opened(store) as db, db.engine.begin() as conn:
        conn.execute(delete(last_applied_table).where(last_applied_table.c.address == address))


def list_runs(limit: int = 20, *, kind: str | None = None, store: Store | None = None) -> list[Run]:
    """The latest ``limit`` runs (of ``kind``, when given), newest first (without their steps)."""
    with _opened(store) as db, db.engine.begin() as conn:
        query = select(runs_table).order_by(runs_table.c.started_at.desc(), runs_table.c.id).limit(max(limit, 0))
        if kind is not None:
            query = query.where(runs_table.c.kind == kind)
        return [Run.from_row(row) for row in conn.execute(query).mappings()]


def get_run(run_id: str, *, store: Store | None = None) -> Run | None:
    """One run with its steps in the order they finished, or None."""
    with _opened(store) as db, db.engine.begin() as conn:
        row = conn.execute(select(runs_table).where(runs_table.c.id == run_id)).mappings().first()
        if row is None:
            return None
        steps = conn.execute(
            select(steps_table).where(steps_table.c.run_id == run_id).order_by(steps_table.c.id)
        ).mappings()
        return Run.from_row(row, (Step.from_row(s) for s in steps))


def last_applied(addresses: Iterable[str], *, store: Store | None = None) -> dict[str, Applied]:
    """What was last applied to each of ``addresses`` (those never applied are absent)."""
    wanted = sorted(set(addresses))
    found: dict[str, Applied] = {}
    with _opened(store) as db, db.engine.begin() as conn:
        for start in range(0, len(wanted), 500):  # bounded IN lists
            chunk = wanted[start : start + 500]
            rows = conn.execute(select(last_applied_table).where(last_applied_table.c.address.in_(chunk))).mappings()
            for row in rows:
                found[row["address"]] = Applied(
                    address=row["address"],
                    desired=json.loads(row["desired"]),
                    applied_at=row["applied_at"],
                    run_id=row["run_id"],
                )
    return found
