"""One tenant's DR drill (runs/drill.py runs tenants side by side, each through :func:`drill_tenant`).

In order: take the tenant's scope lock (``tenant/NAME``: no apply changes the tenant's protection meanwhile, and no
two drills of one tenant overlap); check the drill network (declared, present, not a production failover network,
peered with nothing) and that each VM is protected; then per target (each recovery plan, then each protected VM no
plan holds): read each VM's latest recovery point (its age is the RPO at the drill), clean up a test failover an
earlier, killed run left, request the test failover into the drill network (the RTO clock starts), wait for its
job, read each VM back and check it failed over (the RTO clock stops when all did), and clean up: **always**, also
when the test failover or the checks failed, and when the run is stopping. The lock is released last.

Only the drill primitives' test failover and cleanup are called (``providers.drills``): never a production
failover, never a commit. A stop request (``stop``) lets the target in progress finish and be cleaned up, then
ends the tenant's drill ``interrupted``; a target not started is never started."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from reconciler.core.errors import ReconcilerError, TemporaryError
from reconciler.engine import drill as model
from reconciler.engine.drill import Failure, JobSeen, PointSeen, Step, TargetDrill, TenantDrill, VmDrill
from reconciler.engine.drill_targets import DrillTarget, TenantPlan
from reconciler.engine.rpo import RpoStatus, parse_time
from reconciler.providers.drills import DrillJob, Drills, drills_of
from reconciler.runs import audit, logs
from reconciler.runs.clock import SYSTEM, Clock

if TYPE_CHECKING:
    from reconciler.core.addresses import Address
    from reconciler.core.resources import Observed, Resource
    from reconciler.providers.routing import Router
    from reconciler.store.locks import LockSet

T = TypeVar("T")
LEFTOVER_STATES = frozenset({model.SUCCEEDED_STATE.casefold(), "failed"})  # a test failover not cleaned up
ATTEMPTS = 5  # tries of one request a backend answers with a temporary error (throttled, busy)
COMMENTS_MAX = 500


@dataclass
class TenantRun:
    """What one tenant's drill needs from the run."""

    plan: TenantPlan
    observed: Mapping[Address, Observed | None]
    router: Router
    run_id: str
    progress: Callable[[str], None]  # a line for people, about this tenant (called from the worker thread)
    stop: threading.Event = field(default_factory=threading.Event)
    clock: Clock = SYSTEM
    lock_timeout_s: float = 0.0
    sleep: Callable[[float], None] = time.sleep  # between the attempts of a throttled request


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _retried(run: TenantRun, call: Callable[[], T]) -> T:
    """``call``, tried again on a temporary error (honouring its retry-after) up to :data:`ATTEMPTS` times."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return call()
        except TemporaryError as exc:
            if attempt == ATTEMPTS:
                raise
            run.sleep(min(exc.retry_after if exc.retry_after is not None else 0.5 * 2**attempt, 60.0))
    raise AssertionError("unreachable")  # pragma: no cover


def _seen(job: DrillJob, started: float) -> JobSeen:
    return JobSeen(job.job, job.state, job.started, job.ended, round(time.monotonic() - started, 3))


class _Target:
    """One target's drill: its steps record what they found in ``failures`` and the fields of the result."""

    def __init__(self, run: TenantRun, target: DrillTarget, drills: Drills, network_id: str) -> None:
        self.run, self.target, self.drills, self.network_id = run, target, drills, network_id
        self.failures: list[Failure] = []
        self.points: dict[Address, PointSeen | None] = {}
        self.leftover = False

    def say(self, message: str) -> None:
        self.run.progress(f"{self.target.address.name}: {message}")

    def _point(self, vm: Resource) -> PointSeen | None:
        """The VM's latest recovery point, aged at the run's clock (before the test failover: the RPO at the
        drill)."""
        try:
            point = _retried(self.run, lambda: self.drills.latest_recovery_point(vm))
        except ReconcilerError as exc:
            self.failures.append(Failure(Step.RECOVERY_POINT, str(vm.address), _first_line(exc)))
            return None
        if point is None:
            return PointSeen(None, None, None)
        now = self.run.clock.now()
        age = point.age_seconds
        when = parse_time(point.time)
        if age is None and when is not None:
            age = max((now - when).total_seconds(), 0.0)
        time_text = point.time
        if time_text is None and age is not None:
            time_text = (now - datetime.timedelta(seconds=age)).isoformat(timespec="seconds")
        return PointSeen(time_text, point.kind, round(age, 1) if age is not None else None, point.rpo_seconds)

    def _leftover(self) -> bool:
        """Clean up a test failover an earlier (killed) run left on a VM of the target; False when that failed."""
        states = [
            str((seen.status.get("testFailoverState") if seen is not None else None) or "").casefold()
            for seen in (self.run.observed.get(vm.address) for vm in self.target.vms)
        ]
        if not any(s in LEFTOVER_STATES for s in states):
            return True
        self.say("an earlier run's test failover was not cleaned up: cleaning it up first")
        try:
            _retried(
                self.run,
                lambda: self.drills.cleanup(
                    self.target.resource, comments=self.comments("leftover"), progress=self.say
                ),
            )
        except ReconcilerError as exc:
            self.failures.append(Failure(Step.LEFTOVER, str(self.target.address), _first_line(exc)))
            return False
        self.leftover = True
        return True

    def comments(self, verdict: str) -> str:
        return f"reconciler drill {self.run.run_id}: {verdict}"[:COMMENTS_MAX]

    def _vm(self, vm: Resource, failed_over: bool) -> VmDrill:
        """The VM read back after the test failover: did it fail over?"""
        point = self.points.get(vm.address)
        rpo = self.run.plan.policy.status(point.age_s if point else None) if self.run.plan.policy else RpoStatus.UNKNOWN
        try:
            seen = self.run.router.provider(vm).read_one(vm)
        except ReconcilerError as exc:
            self.failures.append(Failure(Step.VM_CHECK, str(vm.address), f"cannot read it back: {_first_line(exc)}"))
            return VmDrill(vm.address.name, str(vm.address), "unknown", False, point, rpo)
        state = str((seen.status.get("testFailoverState") if seen is not None else None) or "None")
        succeeded = state.casefold() == model.SUCCEEDED_STATE.casefold()
        if not succeeded and failed_over:  # the job said yes, the VM says no: that is the VM's failure
            self.failures.append(
                Failure(
                    Step.VM_CHECK, str(vm.address), f"{vm.address.name} did not fail over (testFailoverState {state})"
                )
            )
        elif not succeeded:
            self.failures.append(
                Failure(
                    Step.VM_CHECK,
                    str(vm.address),
                    f"{vm.address.name} is not running in the test network (testFailoverState {state})",
                )
            )
        return VmDrill(vm.address.name, str(vm.address), state, succeeded, point, rpo)

    def drill(self) -> TargetDrill:
        vms = self.target.vms
        self.points = {vm.address: self._point(vm) for vm in vms}
        if not self._leftover():
            return self._result((), None, None, None)
        test: JobSeen | None = None
        cleanup: JobSeen | None = None
        checked: tuple[VmDrill, ...] = ()
        rto: float | None = None
        audit.audit(
            "drill.test-failover",
            level=logs.quiet_level(),  # the progress on stderr says it already
            run_id=self.run.run_id,
            target=str(self.target.address),
            network=self.network_id,
            vms=[vm.address.name for vm in vms],
        )
        started = time.monotonic()
        try:
            try:
                job = _retried(
                    self.run,
                    lambda: self.drills.test_failover(
                        self.target.resource, network_id=self.network_id, progress=self.say
                    ),
                )
                test = _seen(job, started)
            except ReconcilerError as exc:
                self.failures.append(Failure(Step.TEST_FAILOVER, str(self.target.address), _first_line(exc)))
            checked = tuple(self._vm(vm, test is not None) for vm in vms)
            if test is not None and all(vm.succeeded for vm in checked):
                rto = round(time.monotonic() - started, 3)
                self.say(f"every VM failed over in {rto:.1f}s")
        finally:
            cleanup = self._cleanup()
        return self._result(checked, test, cleanup, rto)

    def _cleanup(self) -> JobSeen | None:
        failing = [f for f in self.failures if f.step in model.FAILING_STEPS]
        verdict = f"failed: {failing[0].cause}" if failing else "passed"
        started = time.monotonic()
        try:
            job = _retried(
                self.run,
                lambda: self.drills.cleanup(self.target.resource, comments=self.comments(verdict), progress=self.say),
            )
        except ReconcilerError as exc:
            self.failures.append(
                Failure(
                    Step.CLEANUP,
                    str(self.target.address),
                    f"{_first_line(exc)}: test VMs may be left; clean up the test failover in the vault, or drill "
                    "again (a drill cleans up what an earlier one left first)",
                )
            )
            return None
        audit.audit(
            "drill.cleanup",
            level=logs.quiet_level(),
            run_id=self.run.run_id,
            target=str(self.target.address),
            verdict=verdict,
        )
        return _seen(job, started)

    def _result(
        self, vms: tuple[VmDrill, ...], test: JobSeen | None, cleanup: JobSeen | None, rto: float | None
    ) -> TargetDrill:
        if not vms:  # not failed over (a leftover that would not clean up): the VMs as they were
            vms = tuple(
                VmDrill(vm.address.name, str(vm.address), "not failed over", False, self.points.get(vm.address))
                for vm in self.target.vms
            )
        r = self.target.resource
        return TargetDrill(
            address=str(r.address),
            kind=r.kind,
            name=r.address.name,
            vms=vms,
            test_failover=test,
            cleanup=cleanup,
            rto_s=rto,
            leftover_cleaned=self.leftover,
            failures=tuple(self.failures),
        )


def _network_problem(run: TenantRun) -> str:
    """Why the drill network cannot be used (empty: it can): absent, a production network, or peered."""
    plan = run.plan
    network = plan.network
    assert network is not None  # TenantPlan.problem says so otherwise
    name = network.address.name
    if name.casefold() in {p.casefold() for p in plan.production}:
        return f"the drill network {name} is a production failover network: a test failover there is refused"
    seen = run.observed.get(network.address)
    if seen is None:
        return f"the drill network {name} does not exist: apply the specs (it is part of spec.recovery.drill)"
    peerings = [str(p) for p in seen.status.get("peerings") or []]
    if peerings:
        return (
            f"the drill network {name} is peered ({', '.join(peerings)}): it is not isolated; remove the peerings "
            "(the tool never makes any)"
        )
    return ""


def _unprotected(run: TenantRun) -> list[Failure]:
    """A VM the specs protect that is not protected live cannot fail over: each one a failure."""
    out = []
    for vm in {vm.address: vm for t in run.plan.targets for vm in t.vms}.values():
        seen = run.observed.get(vm.address)
        state = str(seen.status.get("protectionState") or "") if seen is not None else ""
        if seen is None or (state and state.casefold() != "protected"):
            why = "it is not protected (apply the specs)" if seen is None else f"its protection state is {state}"
            out.append(Failure(Step.PROTECTION, str(vm.address), f"{vm.address.name} cannot fail over: {why}"))
    return out


def _drills(run: TenantRun) -> tuple[Drills | None, str]:
    """The drill primitives of the backend serving the tenant's targets, or why there are none."""
    try:
        provider = run.router.provider(run.plan.targets[0].resource)
    except ReconcilerError as exc:
        return None, _first_line(exc)
    found = drills_of(provider)
    if found is None:
        return None, f"the {getattr(provider, 'name', 'configured')} backend cannot run drills"
    return found, ""


def _targets(run: TenantRun, drills: Drills, failures: list[Failure]) -> tuple[list[TargetDrill], bool]:
    """Drill every target whose VMs are all protected, in order, until asked to stop; and whether it stopped."""
    unprotected = {f.address for f in failures if f.step is Step.PROTECTION}
    network = run.plan.network
    assert network is not None
    network_id = drills.network_id(network)
    out: list[TargetDrill] = []
    for target in run.plan.targets:
        if any(str(vm.address) in unprotected for vm in target.vms):
            continue
        if run.stop.is_set():
            failures.append(Failure(Step.INTERRUPT, str(target.address), "the run was stopped before this target"))
            return out, True
        run.progress(f"{target.address.name}: test failover into {network.address.name}")
        out.append(_Target(run, target, drills, network_id).drill())
    return out, False


def _lock(run: TenantRun) -> tuple[LockSet | None, Failure | None]:
    """The tenant's scope lock, or the failure saying who holds it."""
    from reconciler.store import db, locks

    scope = run.plan.scope
    try:
        return locks.acquire([scope], command=f"drill {run.run_id}", timeout_s=run.lock_timeout_s), None
    except locks.LockHeld as exc:
        return None, Failure(
            Step.LOCK,
            scope,
            f"{scope} is locked by {exc.holder} pid {exc.pid} ({exc.command}) since {exc.acquired_at}: a run is "
            "changing the tenant; drill when it is done (or wait: --lock-timeout)",
        )
    except (db.StoreError, OSError) as exc:
        return None, Failure(Step.LOCK, scope, f"cannot take the lock in {db.shown_url()}: {_first_line(exc)}")


def drill_tenant(run: TenantRun) -> TenantDrill:
    """The tenant's drill (see the module docstring); never raises for what a backend or the store answers."""
    plan = run.plan
    started_at, started = run.clock.now().isoformat(timespec="seconds"), time.monotonic()

    def done(targets: list[TargetDrill], failures: list[Failure], *, interrupted: bool = False) -> TenantDrill:
        found = tuple(targets)
        everything = (*failures, *model.rpo_failures(found, plan.policy), *(f for t in found for f in t.failures))
        verdict = model.verdict(everything, interrupted=interrupted, drilled=bool(found))
        return TenantDrill(
            tenant=plan.tenant,
            site=plan.site,
            verdict=verdict,
            network=plan.network.address.name if plan.network is not None else None,
            policy=plan.policy,
            targets=found,
            failures=(*failures, *model.rpo_failures(found, plan.policy)),
            started_at=started_at,
            duration_s=round(time.monotonic() - started, 3),
        )

    if run.stop.is_set():
        return done(
            [], [Failure(Step.INTERRUPT, plan.scope, "the run was stopped before the tenant's drill")], interrupted=True
        )
    if plan.problem:
        return done([], [Failure(Step.PRECHECK, plan.scope, plan.problem)])
    held, refused = _lock(run)
    if refused is not None:
        return done([], [refused])
    try:
        problem = _network_problem(run)
        drills, why = _drills(run)
        if problem or drills is None:
            return done([], [Failure(Step.PRECHECK, plan.scope, problem or why)])
        failures = _unprotected(run)
        targets, stopped = _targets(run, drills, failures)
        return done(targets, failures, interrupted=stopped)
    finally:
        if held is not None:
            held.release()
