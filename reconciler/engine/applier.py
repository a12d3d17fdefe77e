"""Apply a plan: walk the dependency graph with bounded concurrency per provider, re-checking each
object before acting so that a repeated or resumed step is harmless.

Contract: a change starts only when every change it depends on has succeeded; when one fails, its
dependents are skipped and everything independent still runs; temporary errors are retried with
backoff. A disruptive change (a VM must be off, a host must reboot) is held unless the run allows
disruption or the resource's maintenance window is open; changes of one rollout group (a power
profile's hosts) run at most ``max_unavailable`` at once, counting hosts earlier runs left in maintenance,
and stop at the group's first failure. A kind that needs a multi-step procedure (``KindInfo.procedure``:
a BIOS change reboots its host) runs it here, over provider primitives, journaled (``engine.procedures``).
The UI follows along through ``Hooks`` (the engine never prints).

Deadlines and stops (``engine.stop``): each step has ``step_timeout_s`` from the moment it gets its provider
slot, and a wait (a retry's back-off, a job's poll) that would cross it fails the step at once; a stop (a
signal, the run's deadline) ends every wait and starts nothing more (``engine.walk``)."""

from __future__ import annotations

import contextlib
import datetime
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from reconciler.core import kinds
from reconciler.core.addresses import Address
from reconciler.core.changes import Plan, ResourceChange
from reconciler.core.errors import PermanentError
from reconciler.core.resources import Resource
from reconciler.engine import windows
from reconciler.engine.journal import Journal, MemoryJournal
from reconciler.engine.procedures import host_reboot
from reconciler.engine.results import ApplyReport, Hooks, StepResult, StepStatus
from reconciler.engine.stop import NEVER, Stop
from reconciler.engine.walk import Walk
from reconciler.providers.routing import Router


@dataclass(frozen=True)
class Settings:
    """How an apply run may act. ``now`` decides maintenance windows (injected: tests pin it)."""

    concurrency: int = 8
    attempts: int = 6
    allow_disruption: bool = False
    now: datetime.datetime | None = None
    run_id: str = "run"
    step_timeout_s: float | None = None  # each step's deadline, from when it gets its provider slot
    stop_grace_s: float = 30.0  # how long steps in flight may finish once the run stops (or overran their deadline)


__all__ = ["Applier", "ApplyReport", "Hooks", "Settings", "StepResult", "StepStatus", "apply_plan"]


class Applier:
    """One apply: ``run()`` once. The walk (``engine.walk``) schedules; this object decides what each
    change needs (held, a procedure, a plain provider call)."""

    def __init__(
        self,
        plan: Plan,
        resources: Mapping[Address, Resource],
        router: Router,
        *,
        settings: Settings,
        hooks: Hooks | None = None,
        journal: Journal | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime.datetime] | None = None,
        stop: Stop = NEVER,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.plan = plan
        self.resources = resources
        self.router = router
        self.settings = settings
        self.hooks = hooks or Hooks()
        self.journal = journal if journal is not None else MemoryJournal()
        self.stop = stop
        self.monotonic = monotonic
        self.deadlines: dict[Address, float] = {}  # each running step's, once it has its provider slot
        self._step = threading.local()  # the deadline of the step this worker thread runs
        self._pause = stop.sleeper(sleep)
        now = settings.now or datetime.datetime.now(datetime.UTC)
        self.now = now
        self.clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self.unfinished = {r.address: r for r in self.journal.unfinished()}
        self.host_reboot = host_reboot.HostReboot(
            router=router,
            journal=self.journal,
            run_id=settings.run_id,
            clock=lambda: self.clock().isoformat(timespec="seconds"),
            sleep=self.sleep,
            monotonic=monotonic,
        )

    def run(self) -> ApplyReport:
        """Carry out the plan's pending changes; see the module docstring for the contract."""
        from reconciler.engine.steps import Step

        walk = Walk(
            self.plan,
            self.resources,
            held=self.held,
            out_of_service=self.out_of_service(),
            step=Step(self).run,
            hooks=self.hooks,
            concurrency=self.settings.concurrency,
            stop=self.stop,
            deadlines=self.deadlines,
            grace_s=self.settings.stop_grace_s,
            monotonic=self.monotonic,
        )
        return walk.run()

    # --- waiting ----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def step_deadline(self, address: Address) -> Iterator[None]:
        """The step at ``address`` starts its clock (it has its provider slot): on this thread, waits check it."""
        limit = self.settings.step_timeout_s
        if limit is None:
            yield
            return
        deadline = self.monotonic() + limit
        self.deadlines[address] = deadline
        self._step.deadline = deadline
        try:
            yield
        finally:
            self._step.deadline = None
            self.deadlines.pop(address, None)

    def sleep(self, seconds: float) -> None:
        """A step's wait (a retry's back-off, a poll): :class:`~reconciler.engine.stop.Stopped` when the run
        stops meanwhile; a failure at once, without waiting, when it would end past the step's deadline."""
        deadline: float | None = getattr(self._step, "deadline", None)
        if deadline is not None and self.monotonic() + seconds > deadline:
            limit = self.settings.step_timeout_s or 0
            raise PermanentError(
                f"the step's deadline ({limit:g}s, RECONCILER_STEP_TIMEOUT_S) would pass while waiting "
                f"{seconds:.0f}s more; it may still finish: run apply again to check",
                code="StepTimeout",
            )
        self._pause(seconds)

    # --- decisions --------------------------------------------------------------------------------------

    def may_disrupt(self, resource: Resource) -> bool:
        """``--allow-disruption``, or the resource's maintenance window is open now."""
        rollout = resource.policy.rollout
        window = rollout.window if rollout is not None else None
        return self.settings.allow_disruption or (window is not None and windows.is_open(window, self.now))

    def held(self, change: ResourceChange) -> str:
        """Why ``change`` is held before it starts (empty: it may run). A change whose procedure an earlier
        run left half done always runs: finishing or unwinding it (leaving maintenance) is never held."""
        resource = self.resources.get(change.address)
        if not change.disruptive or resource is None or self.may_disrupt(resource):
            return ""
        if change.address in self.unfinished:
            return ""
        return f"held: {change.disruptive} (use --allow-disruption or wait for the maintenance window)"

    def out_of_service(self) -> dict[str, set[Address]]:
        """Per rollout group, the hosts earlier runs left in maintenance: they count against its limit."""
        out: dict[str, set[Address]] = {}
        for record in self.unfinished.values():
            if record.ours and record.group:
                out.setdefault(record.group, set()).add(record.address)
        return out

    def procedure(self, kind: str) -> host_reboot.HostReboot | None:
        return self.host_reboot if kinds.info(kind).procedure == host_reboot.NAME else None


def apply_plan(
    plan: Plan,
    resources: Mapping[Address, Resource],
    router: Router,
    *,
    concurrency: int = 8,
    attempts: int = 6,
    hooks: Hooks | None = None,
    sleep: Callable[[float], None] = time.sleep,
    allow_disruption: bool = False,
    now: datetime.datetime | None = None,
    journal: Journal | None = None,
    run_id: str = "run",
    stop: Stop = NEVER,
    step_timeout_s: float | None = None,
    stop_grace_s: float = 30.0,
) -> ApplyReport:
    """Carry out the plan's pending changes (an :class:`Applier` run); see the module docstring."""
    settings = Settings(
        concurrency=concurrency,
        attempts=attempts,
        allow_disruption=allow_disruption,
        now=now,
        run_id=run_id,
        step_timeout_s=step_timeout_s,
        stop_grace_s=stop_grace_s,
    )
    return Applier(
        plan, resources, router, settings=settings, hooks=hooks, journal=journal, sleep=sleep, stop=stop
    ).run()


def resources_by_address(resources: Sequence[Resource]) -> dict[Address, Resource]:
    return {r.address: r for r in resources}
