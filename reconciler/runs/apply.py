"""One safe apply, :func:`apply_run`: what ``reconciler apply``, ``watch --auto-correct`` and the tests all call.

In order (docs/architecture.md, "The runs layer"):

1. Lock every tenant (``tenant/NAME``) whose resources the run may change, and every site whose own objects
   it selected for themselves, all or none, before reading: one apply per scope, and nothing another apply
   does can slip between the read and the steps (``runs.scope_locks``: leases, renewed while the run lives).
2. Read the live state and plan again, under the locks. When the plan changes a site's own objects that only
   a tenant's target brought along, lock that site (``site/NAME``) too and read again: applies targeting
   different tenants of one site run side by side.
3. A saved plan must still be the plan: refused when the specs or the live objects it touches changed since
   it was made; then only its changes are kept. A correction keeps only the addresses it corrects.
4. Show the plan (redacted) through the observer. A plan with errors is refused (not for a correction:
   an error elsewhere only holds back what depends on it); a plan with nothing to do ends the run, recorded
   as a run with no steps (not for a correction).
5. Ask the observer to confirm.
6. Write ``apply.start`` to the audit trail and the run's start to the history store: both must work
   before the first change, afterwards a failed write is only a warning.
7. Apply: the engine's steps, each reported to the observer's hooks (messages redacted), to the audit
   trail and to the history store.
8. Close the history run (also when interrupted), release the locks, write ``apply.end``. A store that fails
   here is a warning in the outcome (``warnings``), never an error: the estate work is done, the audit file
   has it, the locks expire as leases, and the next command marks the run interrupted (``store.recovery``).

A stop (a signal, or the run's deadline ``RECONCILER_RUN_TIMEOUT_S``) ends the waits for locks and the read
with :class:`RunInterrupted` (nothing changed), and the steps as ``engine.walk`` describes: the run is then
recorded ``interrupted`` with every step's result.

The session stays open: the caller loaded it and closes it. This module is the one place that calls the
applier (``applier.apply_plan``)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.addresses import Address
from reconciler.core.changes import Plan
from reconciler.engine import applier, watch
from reconciler.engine.stop import NEVER, Stop
from reconciler.runs import audit, run_history
from reconciler.runs.clock import SYSTEM, Clock
from reconciler.runs.errors import RunInterrupted
from reconciler.runs.saved_plan import SavedPlan, check_saved, read_plan_file, read_saved
from reconciler.runs.scope_locks import RunLocks, site_scopes, up_front
from reconciler.runs.session import ReadProgress, Session, make_plan
from reconciler.runs.settings import RUN_TIMEOUT_ENV, RunLimits, run_limits
from reconciler.store import journal

__all__ = [
    "ApplyObserver",
    "ApplyOutcome",
    "ApplyRequest",
    "ApplyStatus",
    "SavedPlan",
    "apply_run",
    "check_saved",
    "read_plan_file",
    "read_saved",
]

APPLY_COMMAND = "reconciler apply"
CORRECT_COMMAND = "reconciler watch --auto-correct"


@dataclass(frozen=True)
class ApplyRequest:
    """What to apply. The session was loaded with the same ``targets`` and ``excludes`` (a saved plan's own)."""

    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    prune: bool = False
    saved: SavedPlan | None = None  # apply exactly this reviewed plan, if it is still the plan
    # A correction (watch --auto-correct): only the changes at these addresses, under their scopes' locks.
    only: frozenset[Address] | None = None
    concurrency: int = 8
    allow_disruption: bool = False  # else disruptive changes wait for their maintenance window
    lock_timeout_s: float = 0.0  # how long to wait for another apply's locks
    label: str = ""  # the command the locks and the audit trail name (default: apply, or watch's correction)

    @property
    def command(self) -> str:
        """What the locks say holds them."""
        if self.label:
            return self.label
        return APPLY_COMMAND if self.only is None else CORRECT_COMMAND


class ApplyStatus(enum.StrEnum):
    APPLIED = "applied"  # steps ran: see the report
    NOTHING_TO_DO = "nothing-to-do"  # the plan had no pending change
    PLAN_HAS_ERRORS = "plan-has-errors"  # refused: nothing applied
    DECLINED = "declined"  # the observer did not confirm: nothing applied


@dataclass(frozen=True)
class ApplyOutcome:
    status: ApplyStatus
    plan: Plan  # what was (or would have been) applied; holds live values: redact before showing
    report: applier.ApplyReport | None = None  # with APPLIED; ``report.stopped`` when the run was cut short
    run_id: str | None = None  # with APPLIED: the audit trail's and the history store's run
    warnings: tuple[str, ...] = field(default=())  # what could not be recorded or released (the store failed)


class ApplyObserver:
    """What :func:`apply_run` tells its caller as it goes; this default shows nothing and confirms."""

    def read_progress(self) -> ReadProgress | None:
        """Progress of the live read (None: not shown)."""
        return None

    def planned(self, plan: Plan) -> None:
        """The plan about to be applied, redacted; before it is refused for errors or confirmed."""

    def confirm(self, plan: Plan) -> bool:
        """Go ahead with ``plan`` (redacted)? False stops the run before any change."""
        return True

    def step_hooks(self) -> applier.Hooks:
        """Hooks that follow the steps (called from worker threads); step messages arrive redacted."""
        return applier.Hooks()


def _current_plan(session: Session, request: ApplyRequest, observer: ApplyObserver, clock: Clock, stop: Stop) -> Plan:
    """The plan read under the locks, checked against a saved plan and cut to what the run applies."""
    saved = request.saved
    current = make_plan(
        session,
        targets=request.targets,
        excludes=request.excludes,
        progress=observer.read_progress(),
        prune=request.prune or (saved is not None and saved.deletes),
        clock=clock,
        stop=stop,
    )
    if saved is not None:
        check_saved(saved, current)
        current = watch.restrict(current, {c.address for c in saved.plan.pending})  # nothing new slips in
    if request.only is not None:
        current = watch.restrict(current, request.only)
    return current


def _audit_fields(request: ApplyRequest) -> dict[str, Any]:
    """``apply.start``'s own keys: the plan file an apply applies, or the command a correction runs as."""
    if request.only is None:
        where: dict[str, Any] = {"plan_file": str(request.saved.path) if request.saved is not None else None}
    else:
        where = {"command": request.command}
    return {**where, "concurrency": request.concurrency, "allow_disruption": request.allow_disruption}


def _why_not(
    session: Session,
    plan: Plan,
    *,
    shown: Plan,
    request: ApplyRequest,
    observer: ApplyObserver,
    clock: Clock,
    run_id: str,
) -> ApplyStatus | None:
    """Why the run stops before changing anything (steps 4 and 5 of the module docstring), or None.
    ``shown``: the plan redacted."""
    correction = request.only is not None
    if plan.errors and not correction:
        return ApplyStatus.PLAN_HAS_ERRORS
    if not plan.pending:
        if not correction:
            run_history.record_nothing(plan, session.spec_paths, clock=clock, run_id=run_id)  # a run with no steps
        return ApplyStatus.NOTHING_TO_DO
    return None if observer.confirm(shown) else ApplyStatus.DECLINED


@dataclass
class _Applied:
    """An apply that ran, before its ``apply.end``: its audit run, its report, what could not be recorded."""

    run: audit.ApplyAudit
    report: applier.ApplyReport
    warnings: list[str] = field(default_factory=list)


def _apply(
    session: Session,
    plan: Plan,
    request: ApplyRequest,
    *,
    observer: ApplyObserver,
    clock: Clock,
    stop: Stop,
    limits: RunLimits,
    run_id: str,
) -> _Applied:
    """Steps 6 and 7 of the module docstring: the records opened, the steps carried out, the history run
    closed (also when interrupted). Every write after the first change is a warning at worst."""
    run = audit.start_apply(plan, clock=clock, run_id=run_id, **_audit_fields(request))
    resources = applier.resources_by_address(session.resources)
    recorder = run_history.begin(run.run_id, plan, session.spec_paths, resources, clock=clock)
    report: applier.ApplyReport | None = None
    try:
        recorder.confirm_in_sync(plan)
        report = applier.apply_plan(
            plan,
            resources,
            session.router,
            concurrency=request.concurrency,
            hooks=recorder.hooks(run.hooks(observer.step_hooks())),
            allow_disruption=request.allow_disruption,
            now=clock.now(),  # whether a maintenance window is open
            journal=journal.StoreJournal(recorder.store),  # host procedures, written ahead of each step
            run_id=run.run_id,
            stop=stop,
            step_timeout_s=limits.step_s,
            stop_grace_s=limits.grace_s,
        )
    finally:
        recorder.end(report)  # None: interrupted
    return _Applied(run, report, recorder.warnings())


def apply_run(
    session: Session,
    request: ApplyRequest,
    *,
    observer: ApplyObserver | None = None,
    clock: Clock = SYSTEM,
    stop: Stop = NEVER,
) -> ApplyOutcome:
    """Apply what ``request`` asks on ``session``, safely: see the module docstring for the steps and why.
    ``clock`` says when the plan was made, whether a maintenance window is open, and times what is recorded.
    ``stop`` (a signal) ends the run promptly, as its deadline (``RECONCILER_RUN_TIMEOUT_S``) does: before any
    change with :class:`RunInterrupted`, afterwards with the report saying so (``report.stopped``).
    Raises :class:`ScopeLocked`, :class:`LockStoreFailed`, :class:`PlanStale`, the live read's errors, and
    :class:`AuditUnwritable` or :class:`HistoryUnusable`: all before any change."""
    watcher = observer or ApplyObserver()
    limits = run_limits()
    run_stop = Stop(parent=stop)  # the deadline stops this run, not the command that started it
    cancel = run_stop.after(limits.run_s, f"the run's deadline passed ({RUN_TIMEOUT_ENV}={limits.run_s:g}s)")
    run_id = uuid.uuid4().hex[:12]  # the locks, the audit trail and the history store's run
    held = RunLocks(
        command=request.command,
        run_id=run_id,
        timeout_s=request.lock_timeout_s,
        lease_s=limits.lock_lease_s,
        stop=run_stop,
    )
    try:
        held.take(up_front(session.resources, targets=request.targets, only=request.only))
        try:
            plan = _locked_plan(session, request, watcher, clock, run_stop, held)
            shown = audit.redact_plan(plan)
            watcher.planned(shown)
            stopped = _why_not(
                session, plan, shown=shown, request=request, observer=watcher, clock=clock, run_id=run_id
            )
            if stopped is not None:
                return ApplyOutcome(stopped, plan)
            if run_stop.is_set:
                raise RunInterrupted(run_stop.reason, during="waiting for the go-ahead", signalled=run_stop.signalled)
            with run_stop.listening():  # from here a signal stops the steps, never the bookkeeping
                applied = _apply(
                    session, plan, request, observer=watcher, clock=clock, stop=run_stop, limits=limits, run_id=run_id
                )
                problem = held.release()  # step 8: a store gone now is a warning, not an error
                applied.run.end(applied.report)
        finally:
            held.release()  # when something above raised (released already otherwise)
        warnings = (*applied.warnings, problem) if problem else tuple(applied.warnings)
        return ApplyOutcome(ApplyStatus.APPLIED, plan, applied.report, applied.run.run_id, warnings)
    finally:
        cancel()
        run_stop.close()


def _locked_plan(
    session: Session, request: ApplyRequest, observer: ApplyObserver, clock: Clock, stop: Stop, held: RunLocks
) -> Plan:
    """The plan read under the locks (step 2 of the module docstring). When it changes a site's own objects,
    that site is locked too and the plan read again: they may have changed before the lock was held."""
    plan = _current_plan(session, request, observer, clock, stop)
    while sites := site_scopes(plan) - held.scopes:
        held.take(sites)
        plan = _current_plan(session, request, observer, clock, stop)
    return plan
