"""A DR drill run (``reconciler drill``): test failover of the selected tenants' protected VMs into their isolated
drill networks, checked and always cleaned up, with the RPO and RTO measured (docs/drills.md).

In order: choose the tenants and what each fails over (``engine.drill_targets``; a ``--target`` that names no tenant
or site is :class:`DrillTargetInvalid`); read the live state of those objects (one bulk read per kind and scope);
then drill the tenants side by side, at most ``concurrency`` at a time, each in a worker thread
(``runs.drill_tenant``: the tenant's scope lock, the checks, each target's test failover, check and cleanup).

**Stopping.** SIGTERM and Ctrl-C reach the main thread as ``KeyboardInterrupt`` (``cli.app.main``); here they set
the stop event instead of ending the run: no tenant or target starts any more, the test failovers in flight run
to the end of their job (ASR refuses a cleanup before), and every one is cleaned up. Then the run returns its
report, ``interrupted``, which the caller records and exits on. A second signal while cleaning up is only logged:
stopping then would leave test VMs running. Only SIGKILL ends it sooner; the next drill cleans up what it left.

A run never prints: it reports progress through :class:`DrillObserver` and logs ``drill.*`` events (also to the
audit trail: a drill creates and deletes test VMs)."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ALL_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from reconciler.engine import planner
from reconciler.engine.drill import DrillReport, Failure, Step, TenantDrill, Verdict
from reconciler.engine.drill_targets import BadSelector, TenantPlan, plan_tenants
from reconciler.reports import drill_json
from reconciler.runs import audit, logs
from reconciler.runs.clock import SYSTEM, Clock
from reconciler.runs.drill_tenant import TenantRun, drill_tenant
from reconciler.runs.errors import RunError
from reconciler.runs.session import ReadProgress, Session, read_live

if TYPE_CHECKING:
    from reconciler.core.addresses import Address
    from reconciler.core.resources import Observed
    from reconciler.runs.run_history import ReportRun

DEFAULT_CONCURRENCY = 4
WAIT_SLICE_S = 0.5  # how often the main thread wakes while tenants drill (a signal is handled between waits)


class DrillTargetInvalid(RunError):
    """A ``--target`` that is not ``tenant/NAME`` or ``site/NAME`` of the specs."""


class NothingToDrill(RunError):
    """No selected tenant has disaster recovery."""

    def __init__(self) -> None:
        super().__init__("no tenant with disaster recovery (spec.recovery) is selected: nothing to drill")


@dataclasses.dataclass(frozen=True)
class DrillRequest:
    targets: tuple[str, ...] = ()  # tenant/NAME or site/NAME; none: every tenant with disaster recovery
    concurrency: int = DEFAULT_CONCURRENCY  # tenants drilled at once
    lock_timeout_s: float = 0.0  # how long a tenant's drill waits for a run holding its scope lock


@dataclasses.dataclass(frozen=True)
class DrillResult:
    report: DrillReport  # redacted
    document: dict[str, Any]  # its JSON document (docs/drills.md), redacted
    spec_paths: list[str]


class DrillObserver:
    """What :func:`drill_run` tells its caller as it goes (the tenant hooks are called from worker threads); this
    default shows nothing."""

    def read_progress(self) -> ReadProgress | None:
        return None

    def started(self, tenants: Sequence[str]) -> None:
        """The tenants about to be drilled."""

    def progress(self, tenant: str, message: str) -> None:
        """A step of one tenant's drill."""

    def tenant_done(self, drill: TenantDrill) -> None:
        """One tenant's drill is over (cleaned up)."""

    def stopping(self) -> None:
        """A stop was asked: nothing new starts; what is failed over is being cleaned up."""


def _plans(session: Session, request: DrillRequest) -> list[TenantPlan]:
    try:
        plans = plan_tenants(session.specs, session.all_resources, request.targets)
    except BadSelector as exc:
        raise DrillTargetInvalid(str(exc)) from exc
    if not plans:
        raise NothingToDrill()
    return plans


def _read(session: Session, plans: Sequence[TenantPlan], observer: DrillObserver) -> dict[Address, Observed | None]:
    """The live state of what the drills fail over (and their networks): one bulk read per kind and scope."""
    reads = [r for p in plans for r in p.reads()]
    if not reads:
        return {}
    return read_live(dataclasses.replace(session, resources=reads), progress=observer.read_progress())


def _crashed(plan: TenantPlan, exc: BaseException) -> TenantDrill:
    """A tenant whose drill raised what it should not have (a bug): an error, named."""
    from reconciler.runs import failures

    return TenantDrill(
        tenant=plan.tenant,
        site=plan.site,
        verdict=Verdict.ERROR,
        network=plan.network.address.name if plan.network is not None else None,
        policy=plan.policy,
        failures=(Failure(Step.PRECHECK, plan.scope, failures.explain(exc)),),
    )


def _wait(futures: Sequence[Future[TenantDrill]], stop: threading.Event, observer: DrillObserver) -> bool:
    """Wait for every tenant's drill; a KeyboardInterrupt (SIGTERM, Ctrl-C) sets ``stop`` and the wait goes on
    while they clean up. Whether the run was stopped."""
    interrupted = False
    while True:
        try:
            if all(f.done() for f in futures):
                return interrupted
            wait(futures, timeout=WAIT_SLICE_S, return_when=ALL_COMPLETED)
        except KeyboardInterrupt:
            stop.set()  # first: whatever happens next, no new test failover starts
            if interrupted:
                logs.log("drill.still-cleaning-up", level="warning", reason="a second stop signal: cleanup goes on")
                continue
            interrupted = True
            logs.log("drill.stopping", level="warning", reason="stop signal: cleaning up what is failed over")
            observer.stopping()


def _drill_all(
    session: Session,
    plans: Sequence[TenantPlan],
    observed: dict[Address, Observed | None],
    *,
    request: DrillRequest,
    run_id: str,
    observer: DrillObserver,
    clock: Clock,
    stop: threading.Event,
) -> tuple[list[TenantDrill], bool]:
    def one(plan: TenantPlan) -> TenantDrill:
        run = TenantRun(
            plan=plan,
            observed=observed,
            router=session.router,
            run_id=run_id,
            progress=lambda message: observer.progress(plan.tenant, message),
            stop=stop,
            clock=clock,
            lock_timeout_s=request.lock_timeout_s,
        )
        found = drill_tenant(run)
        audit.audit(
            "drill.tenant",
            level=logs.quiet_level() if found.verdict is Verdict.PASSED else "warning",
            run_id=run_id,
            tenant=plan.tenant,
            result=found.verdict.value,
            rpo_s=found.rpo_s,
            rto_s=found.rto_s,
            failures=[f.cause for f in found.all_failures],
        )
        observer.tenant_done(found)
        return found

    workers = max(1, min(request.concurrency, len(plans)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="drill") as pool:
        futures = [pool.submit(one, plan) for plan in plans]
        try:
            interrupted = _wait(futures, stop, observer)
        except BaseException:
            # A signal between two waits: the workers still stop starting targets and clean up what they made
            # while the pool is shut down; the report is lost, the cleanup is not.
            stop.set()
            raise
    out = []
    for plan, future in zip(plans, futures, strict=True):
        exc = future.exception()
        out.append(_crashed(plan, exc) if exc is not None else future.result())
    return out, interrupted


def drill_run(
    session: Session,
    request: DrillRequest,
    *,
    observer: DrillObserver | None = None,
    clock: Clock = SYSTEM,
    stop: threading.Event | None = None,
    run_id: str | None = None,
) -> DrillResult:
    """The drill (see the module docstring); ``stop``: set it to stop the run as a signal would; ``run_id``: the
    history store's id of the run (the audit trail's, the report's and the cleanup comments' too). The report and
    its document come back redacted. The session's backends stay open for the caller."""
    watcher = observer or DrillObserver()
    halt = stop or threading.Event()
    plans = _plans(session, request)
    observed = _read(session, plans, watcher)
    run_id = run_id or uuid.uuid4().hex[:12]
    created_at = clock.now().isoformat(timespec="seconds")
    started = time.monotonic()
    audit.audit(
        "drill.start",
        level=logs.quiet_level(),
        run_id=run_id,
        tenants=[p.tenant for p in plans],
        targets=list(request.targets),
    )
    watcher.started([p.tenant for p in plans])
    tenants, interrupted = _drill_all(
        session, plans, observed, request=request, run_id=run_id, observer=watcher, clock=clock, stop=halt
    )
    report = DrillReport(
        created_at=created_at,
        spec_digest=planner.spec_digest(session.all_resources),
        tenants=tuple(tenants),
        selectors=tuple(request.targets),
        run_id=run_id,
        interrupted=interrupted or halt.is_set(),
    )
    audit.audit(
        "drill.end",
        level=logs.quiet_level() if report.verdict is Verdict.PASSED else "warning",
        run_id=run_id,
        result=report.verdict.value,
        counts=report.counts(),
        duration_s=round(time.monotonic() - started, 3),
    )
    document = logs.redact(drill_json.to_dict(report, spec_paths=session.spec_paths))
    shown, _ = drill_json.from_dict(document)  # the report as shown is the redacted document's
    return DrillResult(shown, document, session.spec_paths)


def record(run: ReportRun, found: DrillResult) -> bool:
    """The drill run and its report in the history store; a store that cannot be written is a warning (False): the
    drill is over and cleaned up, and its report was shown."""
    report = found.report
    return run.record(
        found.document,
        result=report.verdict.value,
        counts={k: v for k, v in report.counts().items() if v},
        spec_paths=found.spec_paths,
        spec_digest=report.spec_digest,
    )


__all__ = [
    "DrillObserver",
    "DrillRequest",
    "DrillResult",
    "DrillTargetInvalid",
    "NothingToDrill",
    "drill_run",
    "record",
]
