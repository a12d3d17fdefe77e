"""Recording runs in the history store (``store/history.py``). An apply: its ``runs`` row, one ``steps`` row
per step result, and ``last_applied`` (the desired fields, redacted) for each step that ended done or
already-converged. A plan or drift: its ``runs`` row and its report (:class:`ReportRun`).

For an apply the store must be usable before anything is applied (``begin`` raises
:class:`~reconciler.runs.errors.HistoryUnusable` otherwise, like the locks); once changes have started, a
failing write only logs ``history.write-failed`` (a warning) and the apply goes on.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.runs import audit, logs
from reconciler.runs.clock import SYSTEM, Clock
from reconciler.runs.errors import HistoryUnusable

if TYPE_CHECKING:
    from reconciler.core.addresses import Address
    from reconciler.core.changes import Plan
    from reconciler.core.resources import Resource
    from reconciler.engine import applier
    from reconciler.engine.drift import DriftReport
    from reconciler.store.db import Store


def spec_commit(spec_paths: Sequence[str]) -> str | None:
    """The git HEAD of the (first) spec folder, or None when it is not in a repository or git is missing."""
    if not spec_paths:
        return None
    path = Path(spec_paths[0])
    folder = path if path.is_dir() else path.parent
    try:
        found = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--verify", "-q", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    head = found.stdout.strip()
    return head if found.returncode == 0 and head else None


def outcome(report: applier.ApplyReport | None) -> str:
    """The run's result: interrupted (no report, or stopped part-way: a signal, its deadline), failed, held,
    or ok."""
    if report is None or report.stopped:
        return "interrupted"
    statuses = {r.status for r in report.results}
    if statuses & {"failed", "skipped"}:
        return "failed"
    return "held" if "held" in statuses else "ok"


class RunHistory:
    """One apply's rows; see the module docstring. ``end`` closes the store."""

    # Rows are buffered and written a batch per transaction: a transaction per step cost a millisecond or
    # more of the applier's own thread, a large share of a 20,000-step apply. A batch goes out when it
    # holds FLUSH_ROWS rows or is FLUSH_SECONDS old (checked as steps finish), and at the end of the run;
    # a killed process loses at most the unwritten batch (the audit file has every step as it happened).
    FLUSH_ROWS = 200
    FLUSH_SECONDS = 1.0

    def __init__(
        self, store: Store, run_id: str, resources: Mapping[Address, Resource], *, clock: Clock = SYSTEM
    ) -> None:
        self.store = store
        self.clock = clock  # the rows' times
        self.run_id = run_id
        self.resources = resources
        self.started = time.monotonic()
        self.failed_writes = 0
        self._steps: list[dict[str, Any]] = []
        self._applied: dict[str, dict[str, Any]] = {}
        self._forgotten: set[str] = set()
        self._flushed = time.monotonic()

    def _buffered(self) -> int:
        return len(self._steps) + len(self._applied) + len(self._forgotten)

    def _maybe_flush(self) -> None:
        if self._buffered() >= self.FLUSH_ROWS or time.monotonic() - self._flushed >= self.FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write what is buffered (one transaction)."""
        from reconciler.store import history

        steps, applied, forgotten = self._steps, self._applied, self._forgotten
        self._steps, self._applied, self._forgotten = [], {}, set()
        self._flushed = time.monotonic()
        if steps or applied or forgotten:
            self._safely(
                "steps",
                lambda: history.record_batch(
                    self.run_id,
                    steps=steps,
                    applied=applied,
                    forgotten=forgotten,
                    store=self.store,
                    at=stamp(self.clock),
                ),
            )

    def _apply(self, address: str, desired: dict[str, Any]) -> None:
        self._forgotten.discard(address)
        self._applied[address] = desired

    def _forget(self, address: str) -> None:
        self._applied.pop(address, None)
        self._forgotten.add(address)

    def _safely(self, what: str, write: Callable[[], None]) -> None:
        """A write after changes started: a failure is a warning (the first one logged), never an error."""
        from reconciler.store import db

        try:
            write()
        except Exception as exc:
            self.failed_writes += 1
            if self.failed_writes == 1:
                logs.log(
                    "history.write-failed",
                    level="warning",
                    run_id=self.run_id,
                    write=what,
                    error=_first_line(exc),
                    store=db.shown_url(self.store.url),
                )

    def warnings(self) -> list[str]:
        """What the run could not record, for its summary (empty when every write went through)."""
        if not self.failed_writes:
            return []
        return [
            f"{self.failed_writes} write{'s' * (self.failed_writes != 1)} to the history store failed "
            "(history.write-failed): the estate work above is done, the audit file has every step; the next "
            "command that opens the store marks this run interrupted with the steps it holds"
        ]

    def hooks(self, inner: applier.Hooks) -> applier.Hooks:
        """``inner`` plus a ``steps`` row (and ``last_applied``) after each step."""
        from reconciler.engine import applier

        recorder = self

        class Recorded(applier.Hooks):
            def __init__(self) -> None:
                for name in dir(applier.Hooks):  # every other hook goes straight to the inner hooks
                    if not name.startswith("_") and name != "post_apply":
                        setattr(self, name, getattr(inner, name))

            def post_apply(self, result: applier.StepResult) -> None:
                inner.post_apply(result)
                recorder.step(result)

        return Recorded()

    def step(self, result: applier.StepResult) -> None:
        self._steps.append(
            {
                "address": str(result.address),
                "action": str(result.action),
                "result": str(result.status),
                "message": logs.redactor().text(result.message),
                "duration_s": round(result.duration_s, 3),
                "attempts": result.attempts,
                "started_at": stamp(self.clock, ago_s=result.duration_s),
            }
        )
        if result.status in ("done", "already-converged"):
            address = str(result.address)
            if str(result.action) == "delete":
                self._forget(address)
            else:
                resource = self.resources.get(result.address)
                if resource is not None:
                    self._apply(address, logs.redact(dict(resource.desired)))
        self._maybe_flush()

    def confirm_in_sync(self, plan: Plan) -> None:
        """Resources the run found already as the specs want are applied state too: recording them lets
        drift tell a later outside change (drifted) from a spec change not applied yet (pending)."""
        from reconciler.core.changes import NoopReason

        for c in plan.changes:
            if c.noop_reason in (NoopReason.IN_SYNC, NoopReason.IGNORED_FIELDS) and c.after is not None:
                self._apply(str(c.address), logs.redact(dict(c.after)))
        self.flush()

    def end(self, report: applier.ApplyReport | None) -> None:
        """The run's result (``None``: interrupted), counts per step result and duration; closes the store."""
        from reconciler.store import history

        counts: dict[str, int] = {}
        for r in report.results if report is not None else ():
            counts[str(r.status)] = counts.get(str(r.status), 0) + 1
        try:
            self.flush()
            self._safely(
                "run end",
                lambda: history.record_run_end(
                    self.run_id,
                    result=outcome(report),
                    counts=counts,
                    duration_s=round(time.monotonic() - self.started, 3),
                    finished_at=stamp(self.clock),
                    store=self.store,
                ),
            )
        finally:
            self.store.close()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def stamp(clock: Clock, *, ago_s: float = 0.0) -> str:
    """``clock``'s now (less ``ago_s`` seconds) as the store keeps times: ISO 8601, UTC, microseconds."""
    import datetime

    return (clock.now() - datetime.timedelta(seconds=ago_s)).isoformat(timespec="microseconds")


def _start(
    run_id: str, plan: Plan, spec_paths: Sequence[str], resources: Mapping[Address, Resource], clock: Clock
) -> RunHistory:
    from reconciler.store import db, history, liveness

    user, host = audit.who()
    _host, pid, started = liveness.this_process()
    store = db.open_store(None)
    try:
        history.record_run_start(
            run_id,
            kind="apply",
            user=user,
            host=host,
            spec_digest=plan.spec_digest,
            spec_commit=spec_commit(spec_paths),
            started_at=stamp(clock),
            store=store,
            pid=pid,  # so that the next command can tell this run died (store.recovery)
            process_started=started,
        )
    except BaseException:
        store.close()
        raise
    return RunHistory(store, run_id, resources, clock=clock)


def begin(
    run_id: str,
    plan: Plan,
    spec_paths: Sequence[str],
    resources: Mapping[Address, Resource],
    *,
    clock: Clock = SYSTEM,
) -> RunHistory:
    """Open the store and record the run's start; :class:`HistoryUnusable` when the store cannot be used
    (nothing applied yet)."""
    from reconciler.store import db

    try:
        return _start(run_id, plan, spec_paths, resources, clock)
    except db.StoreError as exc:
        raise HistoryUnusable(db.shown_url(), exc) from exc


def record_nothing(plan: Plan, spec_paths: Sequence[str], *, clock: Clock = SYSTEM, run_id: str | None = None) -> None:
    """An apply with nothing to change: a run with no steps (result ok), ``run_id`` the one its locks carry.
    A store that cannot record it is only a warning: nothing was going to be applied anyway."""
    import uuid

    from reconciler.engine import applier
    from reconciler.store import db

    try:
        run = _start(run_id or uuid.uuid4().hex[:12], plan, spec_paths, {}, clock)
    except db.StoreError as exc:
        logs.log("history.write-failed", level="warning", write="run start", error=_first_line(exc))
        return
    run.confirm_in_sync(plan)
    run.end(applier.ApplyReport())


REPORTS_KEPT_ENV = "RECONCILER_HISTORY_REPORTS"


def reports_kept_setting(environ: Mapping[str, str] | None = None) -> int:
    """How many plan and drift reports the history store keeps: ``RECONCILER_HISTORY_REPORTS`` (0 to
    1,000,000; 0 keeps none), default 200. The runs themselves (when, who, result, counts) are all kept."""
    from reconciler.runs.settings import whole_number_setting
    from reconciler.store import history

    return whole_number_setting(REPORTS_KEPT_ENV, low=0, high=1_000_000, default=history.REPORTS_KEPT, environ=environ)


class ReportRun:
    """A plan or drift run: started when the command starts, recorded with its report when it ends.

    Plan and drift change nothing, so a store that cannot be written is a warning (``history.write-failed``)
    and the command goes on with its output and exit status unchanged."""

    def __init__(self, kind: str, *, clock: Clock = SYSTEM) -> None:
        import uuid

        self.keep = reports_kept_setting()  # a bad value fails the command here, before it reads anything
        self.kind = kind
        self.clock = clock
        self.run_id = uuid.uuid4().hex[:12]
        self.started_at = stamp(clock)
        self.started = time.monotonic()

    def record(
        self,
        document: Mapping[str, Any],
        *,
        result: str,
        counts: Mapping[str, int],
        spec_paths: Sequence[str],
        spec_digest: str | None,
    ) -> bool:
        """The run, its result and its report (``document``, already redacted) in the default store; True
        when recorded, False (after a warning) when the store could not be written."""
        from reconciler.store import db, history

        user, host = audit.who()
        commit = spec_commit(spec_paths)
        try:
            with db.open_store(None) as store:
                history.record_run_start(
                    self.run_id,
                    kind=self.kind,
                    user=user,
                    host=host,
                    spec_digest=spec_digest,
                    spec_commit=commit,
                    started_at=self.started_at,
                    store=store,
                )
                history.record_report(self.run_id, document, store=store, keep=self.keep)
                history.record_run_end(
                    self.run_id,
                    result=result,
                    counts=counts,
                    duration_s=round(time.monotonic() - self.started, 3),
                    finished_at=stamp(self.clock),
                    store=store,
                )
        except Exception as exc:
            logs.log(
                "history.write-failed",
                level="warning",
                run_id=self.run_id,
                kind=self.kind,
                error=_first_line(exc),
                store=db.shown_url(),
            )
            return False
        return True


def plan_result(plan: Plan) -> tuple[str, dict[str, int]]:
    """A plan run's result (error, changes or ok) and its changes per action (and errors)."""
    counts: dict[str, int] = {}
    for c in plan.pending:
        counts[c.action.value] = counts.get(c.action.value, 0) + 1
    if plan.errors:
        counts["error"] = len(plan.errors)
    return ("error" if plan.errors else "changes" if plan.pending else "ok"), counts


def drift_result(report: DriftReport) -> tuple[str, dict[str, int]]:
    """A drift run's result (drift, when anything is not in sync or has a health finding: the exit code 2;
    else in-sync) and its resources per class (those present) and health findings."""
    counts = {name: n for name, n in report.counts().items() if n}
    if report.health:
        counts["health"] = len(report.health)
    return ("drift" if report.has_findings else "in-sync"), counts
