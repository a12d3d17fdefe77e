"""A drift run (``reconciler drift`` and each ``watch`` cycle make it the same way): read the live state,
compare it with the specs and with what apply last applied (the history store), classify every resource
and live object, add the health findings, and hand back the report redacted, with its JSON document
(docs/drift.md). Takes no lock and changes nothing.

The history store is opened before the (long) live read, so that an unusable store fails at once
(:class:`~reconciler.runs.errors.DriftStoreFailed`): drift needs what apply last applied."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reconciler.core.memory import no_cyclic_gc
from reconciler.engine import drift as engine_drift
from reconciler.engine import health, planner, rpo
from reconciler.engine.stop import NEVER, Stop
from reconciler.reports import drift_json
from reconciler.runs import audit, logs
from reconciler.runs.clock import SYSTEM, Clock
from reconciler.runs.errors import DriftStoreFailed
from reconciler.runs.session import ReadProgress, Session, read_live

if TYPE_CHECKING:
    from reconciler.engine.drift import DriftReport
    from reconciler.reports.drift_common import TrendPoint
    from reconciler.runs.run_history import ReportRun
    from reconciler.store.db import Store
    from reconciler.store.history import Applied

TREND_RUNS = 20  # the past drift runs the Markdown and HTML trend shows


@dataclasses.dataclass(frozen=True)
class DriftResult:
    report: DriftReport  # redacted
    document: dict[str, Any]  # its JSON document (docs/drift.md), redacted
    trend: list[TrendPoint] | None  # the past drift runs' counts and CPU ready figures, oldest first, when asked
    spec_paths: list[str]


def _open_store() -> Store:
    from reconciler.store import db

    try:
        return db.open_store(None)
    except Exception as exc:
        if not isinstance(exc, OSError) and not isinstance(exc, db.migration_errors()):
            raise
        raise DriftStoreFailed("open", db.shown_url(), exc) from exc


def _last_applied(store: Store, addresses: set[str]) -> dict[str, Applied]:
    from reconciler.store import db, history

    try:
        return history.last_applied(addresses, store=store)
    except db.StoreError as exc:
        raise DriftStoreFailed("read", db.shown_url(), exc) from exc


def _trend(store: Store) -> list[TrendPoint]:
    """The drift counts and CPU ready figures of the last recorded drift runs, oldest first (none when the store
    cannot say; no figures for a run whose report is no longer kept)."""
    import zlib

    from reconciler.reports.drift_common import TrendPoint
    from reconciler.store import db, history

    def cpu_ready(run_id: str) -> dict[str, float]:
        try:
            document = history.get_report(run_id, store=store) or {}
            return {str(x["address"]): float(x["percent"]) for x in document.get("cpuReady", [])}
        except (db.StoreError, ValueError, KeyError, TypeError, zlib.error):
            return {}  # a damaged report: that run shows no figures

    try:
        runs = [r for r in reversed(history.list_runs(TREND_RUNS, kind="drift", store=store)) if r.result is not None]
    except db.StoreError:
        return []  # the trend is decoration: the report stands without it
    return [TrendPoint(r.id, r.started_at, dict(r.counts or {}), cpu_ready(r.id)) for r in runs]


def _with_host_reads(session: Session, watched: list[health.Watch]) -> Session:
    """The session reading the watched hosts' ``host.state`` objects too: one more bulk read per site, from
    the backend the routing table gives each host."""
    if not watched:
        return session
    return dataclasses.replace(session, resources=[*session.resources, *health.host_reads(watched)])


def compute(
    session: Session,
    *,
    targets: Sequence[str],
    excludes: Sequence[str],
    progress: ReadProgress | None = None,
    trend: bool = False,
    clock: Clock = SYSTEM,
    stop: Stop = NEVER,
) -> tuple[DriftReport, list[TrendPoint] | None]:
    """The drift report of the selected resources (made at ``clock``'s now), with health findings, and the
    trend of past drift runs when asked; not redacted. The session's backends stay open for the caller."""
    with no_cyclic_gc():  # as plan does: tens of thousands of observed objects and entries, none cyclic
        watched = health.watches(session.specs, session.resources)  # hosts whose CPU ready a profile watches
        store = _open_store()  # before the (long) read: an unusable store fails at once
        planned = planner.Pending(session.resources, unfinished=session.unfinished)  # compared as reads return
        try:
            observed = read_live(
                _with_host_reads(session, watched), progress=progress, on_batch=planned.feed, stop=stop
            )
            hosts = {a: seen for a, seen in observed.items() if a.kind == health.HOST_KIND}
            observed = {a: seen for a, seen in observed.items() if a.kind != health.HOST_KIND}
            addresses = {str(r.address) for r in session.resources}
            addresses |= {str(a) for a, seen in observed.items() if seen is not None}
            applied = _last_applied(store, addresses)
            points = _trend(store) if trend else None
        finally:
            store.close()
        now = clock.now()
        found = health.findings(session.resources, observed, watched, hosts)
        found += rpo.findings(session.resources, observed, declared=session.all_resources, now=now)
        report = engine_drift.make_report(
            session.resources,
            observed,
            applied,
            created_at=now.isoformat(timespec="seconds"),
            declared=session.all_resources,  # what a --target leaves out is still declared: never unmanaged
            targets=targets,
            excludes=excludes,
            redact=logs.redact,  # apply stored the desired fields redacted: compare them alike
            digest=planner.spec_digest(session.all_resources),
            health=found,  # protection, the ASR Provider, CPU ready, and RPO (engine/rpo.py)
            planned=planned.changes,
            readings=health.readings(watched, hosts),  # every watched host's CPU ready: the trend history keeps
        )
        return report, points


def drift(
    session: Session,
    *,
    targets: Sequence[str],
    excludes: Sequence[str],
    progress: ReadProgress | None = None,
    trend: bool = False,
    clock: Clock = SYSTEM,
    stop: Stop = NEVER,
) -> DriftResult:
    """The drift run on ``session`` (see the module docstring): ``drift.done`` logged, the report and its
    document redacted. The session's backends stay open for the caller. A ``stop`` ends the read:
    :class:`~reconciler.runs.errors.RunInterrupted`."""
    report, points = compute(
        session, targets=targets, excludes=excludes, progress=progress, trend=trend, clock=clock, stop=stop
    )
    audit.drift_done(report)
    shown = engine_drift.redacted(report, logs.redact)
    document = logs.redact(drift_json.to_dict(shown, spec_paths=session.spec_paths))
    return DriftResult(shown, document, points, session.spec_paths)


def record(run: ReportRun, found: DriftResult) -> bool:
    """The drift run and its report in the history store; a store that cannot be written is only a warning
    (drift changes nothing): False then."""
    from reconciler.runs.run_history import drift_result

    outcome, counts = drift_result(found.report)
    return run.record(
        found.document, result=outcome, counts=counts, spec_paths=found.spec_paths, spec_digest=found.report.spec_digest
    )
