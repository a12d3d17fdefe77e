"""``reconciler watch``'s runs: drift on an interval (docs/scheduling.md).

Each cycle loads the specs, makes the drift report exactly as ``reconciler drift`` does (and records it),
and with auto-correct re-applies what drifted through :func:`reconciler.runs.apply.apply_run`: only drifted
and missing resources (pending spec changes only with ``apply_pending``), under their scopes' locks (skipped
with a warning when another apply holds one), never allowing disruption (a disruptive correction waits
for its maintenance window). :func:`watch` runs cycles until told to stop: it logs a ``watch.cycle`` event
per cycle, updates the metrics, and posts to the webhook when drift appears, changes or clears, and when a
correction could not start because another apply holds a scope (``correction.skipped``, also a metric). A
lock a dead run left behind (a killed watch's own) is stale and taken over (``runs.scope_locks``).

A failed cycle never ends the watch: its ``error`` says why, and the observer gets the typed error to show."""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.engine import applier
from reconciler.engine import watch as engine_watch
from reconciler.engine.stop import NEVER, Stop
from reconciler.runs import audit, failures, logs
from reconciler.runs.apply import ApplyRequest, apply_run
from reconciler.runs.clock import SYSTEM, Clock
from reconciler.runs.errors import AuditUnwritable, HistoryUnusable, LockStoreFailed, RunError, ScopeLocked
from reconciler.runs.session import Session, load

if TYPE_CHECKING:
    from reconciler.engine.drift import DriftReport
    from reconciler.runs.metrics import Metrics


@dataclasses.dataclass(frozen=True)
class Options:
    path: Path
    targets: list[str]
    excludes: list[str]
    estate: Path | None
    auto_correct: bool = False
    apply_pending: bool = False
    concurrency: int = 8
    every_s: float = 900.0  # from one cycle's start to the next, before the jitter
    jitter: float = 0.0  # up to this fraction of every_s added at random
    webhook: str | None = None
    once: bool = False


@dataclasses.dataclass
class Correction:
    """What one cycle's auto-correct did."""

    wanted: int = 0  # addresses it set out to correct
    skipped: str = ""  # why it did nothing (a lock held, nothing left to do)
    locked: bool = False  # it could not start: another apply holds a scope (a metric and a webhook notice)
    counts: dict[str, int] = dataclasses.field(default_factory=dict)  # step results
    failed: int = 0  # failed and skipped steps


@dataclasses.dataclass
class Cycle:
    report: DriftReport | None = None
    error: str = ""
    correction: Correction | None = None
    duration_s: float = 0.0

    @property
    def result(self) -> str:
        """``ok`` (nothing found), ``drift`` (anything found) or ``error`` (the cycle failed)."""
        if self.report is None:
            return "error"
        return "drift" if self.report.findings else "ok"


class WatchObserver:
    """What a watch shows besides its log: this default shows nothing."""

    def loaded(self, session: Session) -> None:
        """A cycle loaded its session (it may have created the embedded estate)."""

    def failed(self, error: RunError) -> None:
        """A cycle, or its correction, stopped for ``error`` (then logged as "see the message above")."""


def _drift(session: Session, options: Options, clock: Clock, stop: Stop) -> DriftReport:
    """The drift report (redacted), made and recorded as ``reconciler drift`` makes and records it (a store
    that cannot be written is only a warning)."""
    from reconciler.runs import drift as run_drift
    from reconciler.runs import run_history

    run = run_history.ReportRun("drift", clock=clock)  # started now: the run's duration covers the read
    found = run_drift.drift(session, targets=options.targets, excludes=options.excludes, clock=clock, stop=stop)
    run_drift.record(run, found)
    return found.report


def correct(
    session: Session, report: DriftReport, options: Options, *, clock: Clock = SYSTEM, stop: Stop = NEVER
) -> Correction | None:
    """Re-apply what drifted (see the module docstring); None when nothing needs it. The errors of
    :func:`~reconciler.runs.apply.apply_run`, except a lock another apply holds: then it is skipped."""
    wanted = engine_watch.corrections(report, apply_pending=options.apply_pending)
    if not wanted:
        return None
    correction = Correction(wanted=len(wanted))
    request = ApplyRequest(
        targets=tuple(options.targets),
        excludes=tuple(options.excludes),
        only=wanted,
        concurrency=options.concurrency,
        allow_disruption=False,  # a disruptive correction waits for its maintenance window
    )
    try:
        # Read again under the locks, as apply does: another apply may have changed things since the drift read.
        outcome = apply_run(session, request, clock=clock, stop=stop)
    except ScopeLocked as exc:
        correction.skipped, correction.locked = str(exc), True
        logs.log("watch.correct-skipped", level="warning", reason=correction.skipped, addresses=len(wanted))
        return correction
    result = outcome.report
    if result is None:
        correction.skipped = "nothing left to correct"
        return correction
    for step in result.results:
        correction.counts[step.status] = correction.counts.get(step.status, 0) + 1
    correction.failed = len(result.by_status(applier.StepStatus.FAILED)) + len(
        result.by_status(applier.StepStatus.SKIPPED)
    )
    logs.log(
        "watch.corrected",
        level="warning" if correction.failed else "info",
        run_id=outcome.run_id,
        addresses=len(wanted),
        steps=correction.counts,
        held=[str(r.address) for r in result.by_status(applier.StepStatus.HELD)],
    )
    return correction


def _explain(exc: BaseException) -> str:
    text: str = logs.redactor().text(failures.explain(exc))
    return text.splitlines()[0] if text else type(exc).__name__


def _failed_correction(exc: BaseException) -> Correction:
    correction = Correction(skipped=_explain(exc), failed=1)
    logs.log("watch.correct-failed", level="error", error=correction.skipped)
    return correction


def _correct_safely(
    session: Session, report: DriftReport, options: Options, observer: WatchObserver, clock: Clock, stop: Stop
) -> Correction | None:
    """:func:`correct`, where anything that stops it makes a failed correction (the watch goes on)."""
    try:
        return correct(session, report, options, clock=clock, stop=stop)
    except LockStoreFailed as exc:  # the store's own error says what to check
        return _failed_correction(exc.cause)
    except RunError as exc:
        observer.failed(exc)
        if isinstance(exc, AuditUnwritable | HistoryUnusable):
            return Correction(skipped="the audit log or history store is unusable", failed=1)
        return Correction(skipped="the correction failed (see the message above)", failed=1)
    except Exception as exc:
        if failures.debugging():
            raise
        return _failed_correction(exc)


def run_cycle(
    options: Options, *, observer: WatchObserver | None = None, clock: Clock = SYSTEM, stop: Stop = NEVER
) -> Cycle:
    """One cycle: drift, then auto-correct if asked. Never raises for a failed cycle: ``error`` says why. A
    ``stop`` (a signal) ends its read or its correction promptly, as it ends ``drift`` and ``apply``."""
    shown = observer or WatchObserver()
    started = time.monotonic()
    cycle = Cycle()
    try:
        session = load([options.path], targets=options.targets, excludes=options.excludes, estate=options.estate)
        shown.loaded(session)
        try:
            cycle.report = _drift(session, options, clock, stop)
            if options.auto_correct and not stop.is_set:
                cycle.correction = _correct_safely(session, cycle.report, options, shown, clock, stop)
        finally:
            session.close()
    except RunError as exc:
        shown.failed(exc)
        cycle.error = "the cycle failed (see the message above)"
    except Exception as exc:
        if failures.debugging():
            raise
        cycle.error = _explain(exc)
    cycle.duration_s = time.monotonic() - started
    return cycle


SKIPPED_EVENT = "correction.skipped"


def skipped_payload(correction: Correction, *, host: str, at: str) -> dict[str, Any]:
    """The webhook's notice that auto-correct could not start (another apply holds a scope it needs): posted
    on the first such cycle, again after a cycle that could correct. ``text`` for Slack and Teams."""
    where = f" on {host}" if host else ""
    return {
        "text": f"reconciler: auto-correct skipped{where}: {correction.skipped} ({correction.wanted} to correct)",
        "event": SKIPPED_EVENT,
        "createdAt": at,
        "host": host or None,
        "reason": correction.skipped,
        "addresses": correction.wanted,
    }


def _log_cycle(cycle: Cycle) -> None:
    report = cycle.report
    logs.log(
        "watch.cycle",
        level="error" if cycle.error else "info",
        result=cycle.result,
        duration_s=round(cycle.duration_s, 3),
        counts=report.counts() if report is not None else None,  # the report's classes, as it counts them
        corrected=dataclasses.asdict(cycle.correction) if cycle.correction is not None else None,
        error=cycle.error or None,
    )


def watch(
    options: Options,
    *,
    stop: threading.Event,
    metrics: Metrics,
    observer: WatchObserver | None = None,
    rng: random.Random | None = None,
    clock: Clock = SYSTEM,
    run_stop: Stop = NEVER,
) -> Cycle:
    """Cycles until ``stop`` is set or, with ``options.once``, one; the last cycle. Between cycles it waits
    ``every_s`` plus the jitter, counted from the cycle's start. ``run_stop`` (set with ``stop`` by a signal)
    also ends the cycle in progress promptly: its read, or its correction as a stopped apply ends."""
    from reconciler.runs.webhook import post_webhook, webhook_host

    _, host = audit.who()
    chance = rng or random.Random()
    previous: frozenset[str] | None = None
    was_locked = False  # the previous cycle's correction could not start: notified already
    logs.log(
        "watch.start",
        every_s=options.every_s,
        jitter=options.jitter,
        auto_correct=options.auto_correct,
        apply_pending=options.apply_pending,
        metrics=metrics.address,
        webhook=webhook_host(options.webhook) if options.webhook else None,
        once=options.once,
    )
    while True:
        started = time.monotonic()
        cycle = run_cycle(options, observer=observer, clock=clock, stop=run_stop)
        metrics.record(cycle, now=clock.now().timestamp())
        _log_cycle(cycle)
        if cycle.report is not None:
            current = frozenset(str(e.address) for e in engine_watch.drifted(cycle.report))
            notice = engine_watch.notice(previous, current)
            previous = current
            if notice is not None and options.webhook:
                post_webhook(options.webhook, engine_watch.webhook_payload(cycle.report, notice, host=host))
        locked = cycle.correction is not None and cycle.correction.locked
        if locked and not was_locked and options.webhook and cycle.correction is not None:
            post_webhook(options.webhook, skipped_payload(cycle.correction, host=host, at=clock.now().isoformat()))
        was_locked = locked
        if options.once or stop.is_set():
            break
        delay = engine_watch.next_delay(options.every_s, options.jitter, chance) - (time.monotonic() - started)
        logs.log("watch.sleep", level="debug", seconds=round(max(0.0, delay), 1))
        if stop.wait(max(0.0, delay)):
            break
    logs.log("watch.stopped", signal=stop.is_set())
    return cycle
