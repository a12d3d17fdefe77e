"""One safe apply, :func:`apply_run`: what ``reconciler apply``, ``watch --auto-correct`` and the tests all call.

In order (docs/architecture.md, "The runs layer"):

1. Lock every scope (``site/NAME``, ``tenant/NAME``) the run may change, all or none, before reading: one
   apply per scope, and nothing another apply does can slip between the read and the steps.
2. Read the live state and plan again, under the locks.
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
8. Close the history run (also when interrupted), release the locks, write ``apply.end``.

The session stays open: the caller loaded it and closes it. This module is the one place that calls the
applier (``applier.apply_plan``)."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.core.addresses import Address
from reconciler.core.changes import Action, Plan
from reconciler.core.resources import Resource
from reconciler.engine import applier, staleness, watch
from reconciler.reports import plan_json
from reconciler.runs import audit, run_history
from reconciler.runs.clock import SYSTEM, Clock
from reconciler.runs.errors import LockStoreFailed, PlanStale, SavedPlanUnreadable, ScopeLocked
from reconciler.runs.session import ReadProgress, Session, make_plan
from reconciler.store import journal

if TYPE_CHECKING:
    from reconciler.store.locks import LockSet

APPLY_COMMAND = "reconciler apply"
CORRECT_COMMAND = "reconciler watch --auto-correct"


@dataclass(frozen=True)
class SavedPlan:
    """A plan saved with ``plan -o``, as read back: the plan, and where its specs were."""

    path: Path
    plan: Plan
    spec_paths: tuple[str, ...]

    @property
    def deletes(self) -> bool:
        """It deletes: it was made with ``--prune`` and reviewed with its deletes."""
        return any(c.action is Action.DELETE for c in self.plan.pending)


def read_saved(path: Path) -> SavedPlan:
    """The plan file at ``path``, checked (``plan_json.check_saved``: this format, its checksum, its fields);
    :class:`SavedPlanUnreadable` when it is not a plan this version applies as it was written."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        plan_json.check_saved(data)
        plan, spec_paths = plan_json.from_dict(data)
    except RecursionError as exc:  # json nests by recursion: a file nested this deep is no plan
        raise SavedPlanUnreadable(path, ValueError("nested too deeply to be a plan file made by plan -o")) from exc
    except (OSError, ValueError, plan_json.PlanFormatError) as exc:
        raise SavedPlanUnreadable(path, exc) from exc
    return SavedPlan(path, plan, tuple(spec_paths))


def read_plan_file(path: Path) -> SavedPlan | None:
    """The saved plan at ``path`` when the file is one (:func:`read_saved`), else None (specs). Recognised by
    its content, whatever its name (``plan -o p.plan``, ``tfplan``): a JSON object, which no spec file starts
    with; or a ``.json`` file, which then has to be a plan."""
    if not path.is_file():
        return None
    try:
        with path.open("rb") as stream:
            head = stream.read(4096)
    except OSError:
        return None  # the spec loader says why it cannot be read
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") or path.suffix.lower() == ".json":
        return read_saved(path)
    return None


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

    @property
    def command(self) -> str:
        """What the locks say holds them."""
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
    report: applier.ApplyReport | None = None  # with APPLIED
    run_id: str | None = None  # with APPLIED: the audit trail's and the history store's run


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


def _scopes(resources: Iterable[Resource]) -> set[str]:
    chosen = list(resources)
    return {f"site/{r.site}" for r in chosen if r.site} | {f"tenant/{r.tenant}" for r in chosen if r.tenant}


def _lock(session: Session, request: ApplyRequest) -> LockSet:
    """The scope locks of every resource the run may change (all or none); step 1 of the module docstring."""
    from reconciler.store import db, locks

    only = request.only
    scopes = _scopes(r for r in session.resources if only is None or r.address in only)
    try:
        return locks.acquire(scopes, command=request.command, timeout_s=request.lock_timeout_s)
    except locks.LockHeld as exc:
        raise ScopeLocked(exc, waited_s=request.lock_timeout_s) from exc
    except db.StoreError as exc:
        raise LockStoreFailed(db.shown_url(), exc) from exc


def check_saved(saved: SavedPlan, current: Plan) -> None:
    """:class:`PlanStale` unless ``current`` (the plan made now, under the locks) is still ``saved``: made by
    this version of the tool, from the same specs (values and policies), on the same live objects, and
    producing, value for value, the changes the file lists. Terraform's rule: what the saved plan says, or
    nothing."""
    import reconciler

    made_by = saved.plan.tool_version
    if made_by != reconciler.__version__:
        raise PlanStale(
            f"{saved.path} was made by reconciler {made_by}; this is reconciler {reconciler.__version__}", []
        )
    shown = audit.redact_plan(current)  # the file holds the plan redacted: compare like with like
    if saved.plan.spec_digest != current.spec_digest:
        changes = staleness.spec_changes(saved.plan, shown) or ["(a resource outside the plan's targets)"]
        raise PlanStale(f"The specs changed since {saved.path} was made", changes)
    moved = staleness.live_changes(saved.plan, shown)
    if moved:
        raise PlanStale(f"The live state changed since {saved.path} was made", moved)
    differ = staleness.reviewed_changes(saved.plan, shown)
    if differ:  # the file's values were edited, or its digest forged
        raise PlanStale(f"The specs no longer produce the reviewed plan {saved.path}", differ)


def _current_plan(session: Session, request: ApplyRequest, observer: ApplyObserver, clock: Clock) -> Plan:
    """The plan read under the locks, checked against a saved plan and cut to what the run applies."""
    saved = request.saved
    current = make_plan(
        session,
        targets=request.targets,
        excludes=request.excludes,
        progress=observer.read_progress(),
        prune=request.prune or (saved is not None and saved.deletes),
        clock=clock,
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
    session: Session, plan: Plan, *, shown: Plan, request: ApplyRequest, observer: ApplyObserver, clock: Clock
) -> ApplyStatus | None:
    """Why the run stops before changing anything (steps 4 and 5 of the module docstring), or None.
    ``shown``: the plan redacted."""
    correction = request.only is not None
    if plan.errors and not correction:
        return ApplyStatus.PLAN_HAS_ERRORS
    if not plan.pending:
        if not correction:
            run_history.record_nothing(plan, session.spec_paths, clock=clock)  # a run with no steps
        return ApplyStatus.NOTHING_TO_DO
    return None if observer.confirm(shown) else ApplyStatus.DECLINED


def apply_run(
    session: Session, request: ApplyRequest, *, observer: ApplyObserver | None = None, clock: Clock = SYSTEM
) -> ApplyOutcome:
    """Apply what ``request`` asks on ``session``, safely: see the module docstring for the steps and why.
    ``clock`` says when the plan was made, whether a maintenance window is open, and times what is recorded.
    Raises :class:`ScopeLocked`, :class:`LockStoreFailed`, :class:`PlanStale`, the live read's errors, and
    :class:`AuditUnwritable` or :class:`HistoryUnusable`: all before any change."""
    watcher = observer or ApplyObserver()
    held = _lock(session, request)
    report: applier.ApplyReport | None = None
    try:
        plan = _current_plan(session, request, watcher, clock)
        shown = audit.redact_plan(plan)
        watcher.planned(shown)
        stopped = _why_not(session, plan, shown=shown, request=request, observer=watcher, clock=clock)
        if stopped is not None:
            return ApplyOutcome(stopped, plan)
        run = audit.start_apply(plan, clock=clock, **_audit_fields(request))
        resources = applier.resources_by_address(session.resources)
        recorder = run_history.begin(run.run_id, plan, session.spec_paths, resources, clock=clock)
        recorder.confirm_in_sync(plan)
        try:
            report = applier.apply_plan(
                plan,
                resources,
                session.router,
                concurrency=request.concurrency,
                hooks=recorder.hooks(run.hooks(watcher.step_hooks())),
                allow_disruption=request.allow_disruption,
                now=clock.now(),  # whether a maintenance window is open
                journal=journal.StoreJournal(recorder.store),  # host procedures, written ahead of each step
                run_id=run.run_id,
            )
        finally:
            recorder.end(report)  # None: interrupted
    finally:
        held.release()
    run.end(report)
    return ApplyOutcome(ApplyStatus.APPLIED, plan, report, run.run_id)
