"""The schedule of an apply: which change may start when. Linear in changes + edges: each change counts
the dependencies it still waits for, and a finished change releases its dependents.

- A change whose dependency could not be planned (an error) is skipped; one the applier holds is held, and
  so is everything downstream of it; a failure skips everything downstream of it.
- A rollout group (a power profile's hosts) has at most ``max_unavailable`` disruptive steps out at once,
  counting the hosts earlier runs left in maintenance (``out_of_service``); a step over the limit is not
  even submitted (waiting inside a worker would hold a thread and a provider slot), and the group's first
  failure skips the steps still queued.
- A dependency cycle (the planner refuses them; this is the last line) skips its changes, never drops them.
- A stop (``engine.stop``: a signal, the run's deadline) starts nothing more: what has not started is skipped,
  steps in flight get ``grace_s`` to finish (their waits end at once) and are then abandoned, failed with a
  message saying they may still finish. A step still running ``grace_s`` after its own deadline is abandoned
  the same way. The workers are daemon threads: an abandoned call never keeps the process alive.
"""

from __future__ import annotations

import collections
import contextlib
import queue
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future

from reconciler.core.addresses import Address
from reconciler.core.changes import Plan, ResourceChange
from reconciler.core.resources import Resource, Rollout
from reconciler.engine.graph import Graph
from reconciler.engine.pool import DaemonPool
from reconciler.engine.results import ApplyReport, Hooks, StepResult, StepStatus
from reconciler.engine.stop import NEVER, Stop

WAKE_S = 5.0  # how often the walk looks at the running steps' deadlines while it waits


class Walk:
    def __init__(
        self,
        plan: Plan,
        resources: Mapping[Address, Resource],
        *,
        held: Callable[[ResourceChange], str],
        out_of_service: Mapping[str, set[Address]],
        step: Callable[[ResourceChange], StepResult],
        hooks: Hooks,
        concurrency: int,
        stop: Stop = NEVER,
        deadlines: Mapping[Address, float] | None = None,
        grace_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stop = stop
        self.deadlines = deadlines if deadlines is not None else {}  # a running step's, once it has its slot
        self.grace_s = grace_s
        self.monotonic = monotonic
        self.graph = Graph(plan.pending)
        self.resources = resources
        self.step = step
        self.hooks = hooks
        self.concurrency = concurrency
        self.report = ApplyReport()
        self.finished: set[Address] = set()
        self.skipped: dict[Address, str] = {}
        self.held: dict[Address, str] = {}
        self.waiting = {a: len(deps) for a, deps in self.graph.waits_for.items()}
        self.ready: list[Address] = [a for a, n in self.waiting.items() if n == 0]
        # Rollout groups: steps out now (hosts earlier runs left in maintenance included), steps waiting for a
        # slot, and why a group stopped.
        self.out_of_service = {g: set(hosts) for g, hosts in out_of_service.items()}
        self.out = {g: len(hosts) for g, hosts in self.out_of_service.items()}
        self.queued: dict[str, collections.deque[Address]] = {}
        self.stopped: dict[str, str] = {}
        self._screen(plan, held)

    def _screen(self, plan: Plan, held: Callable[[ResourceChange], str]) -> None:
        """Before anything runs: what cannot run (a dependency has an error) and what is held."""
        blocked = {c.address for c in plan.errors}
        for a, change in self.graph.nodes.items():
            missing = [d for d in change.depends_on if d in blocked]
            why = held(change)
            if missing:
                self.skipped[a] = f"depends on {missing[0]}, which has an error"
            elif why:
                self.held[a] = why
        for a in list(self.held):
            for d in self.graph.downstream([a]):
                self.held.setdefault(d, f"held: waits for {a}, which is held")
        for a in self.graph.cycle() or ():
            self.skipped.setdefault(a, "skipped: part of a dependency cycle")

    def rollout_of(self, a: Address) -> Rollout | None:
        resource = self.resources.get(a)
        rollout = resource.policy.rollout if resource is not None else None
        change = self.graph.nodes[a]
        counted = change.disruptive or a in self.out_of_service.get(rollout.group if rollout else "", ())
        return rollout if rollout is not None and counted else None

    def _admit(self, candidates: list[Address]) -> list[Address]:
        """The candidates that may start now; rollout steps over their group's limit wait in a queue."""
        out = []
        for a in candidates:
            rollout = self.rollout_of(a)
            if rollout is None:
                out.append(a)
            elif rollout.group in self.stopped:
                self._settle(a, StepStatus.SKIPPED, f"rollout stopped: {self.stopped[rollout.group]}")
            elif a in self.out_of_service.get(rollout.group, ()):
                out.append(a)  # already out (an earlier run left it in maintenance): it holds its slot
            elif self.out.get(rollout.group, 0) < max(1, rollout.max_unavailable):
                self.out[rollout.group] = self.out.get(rollout.group, 0) + 1
                out.append(a)
            else:
                self.queued.setdefault(rollout.group, collections.deque()).append(a)
        return out

    def _settle(self, a: Address, status: str, why: str) -> None:
        """Record a change that will not run (skipped or held) and tell the UI."""
        self.finished.add(a)
        result = StepResult(a, self.graph.nodes[a].action, status, why)
        self.report.results.append(result)
        self.hooks.post_apply(result)

    def _completed(self, a: Address, result: StepResult) -> None:
        self.finished.add(a)
        self.report.results.append(result)
        rollout = self.rollout_of(a)
        if rollout is not None:
            self._free_slot(a, rollout, failed=result.status == StepStatus.FAILED)
        if result.status in (StepStatus.DONE, StepStatus.ALREADY):
            for d in self.graph.dependents[a]:
                self.waiting[d] -= 1
                if self.waiting[d] == 0:
                    self.ready.append(d)
        elif result.status == StepStatus.HELD:
            for d in self.graph.downstream([a]):
                self.held.setdefault(d, f"held: waits for {a}, which is held")
        else:
            for d in self.graph.downstream([a]):
                self.skipped.setdefault(d, f"skipped: {a} failed")

    def _free_slot(self, a: Address, rollout: Rollout, *, failed: bool) -> None:
        """A rollout step ended: its slot is free (a failure stops the group and skips what is queued)."""
        group = rollout.group
        self.out_of_service.get(group, set()).discard(a)
        self.out[group] -= 1
        if failed:
            self.stopped.setdefault(group, f"{a} failed")
            for queued in self.queued.pop(group, collections.deque()):
                self._settle(queued, StepStatus.SKIPPED, f"rollout stopped: {self.stopped[group]}")
            return
        waiting_hosts = self.queued.get(group)
        if waiting_hosts:
            self.ready.append(waiting_hosts.popleft())

    def _starved(self) -> None:
        """Steps still queued when nothing runs: their group's slots are held by hosts an earlier run left
        out that this plan does not finish (a --target left them out). Reported, never dropped."""
        for group, waiting in self.queued.items():
            left = sorted(a.name for a in self.out_of_service.get(group, ()))
            for a in waiting:
                self._settle(
                    a,
                    StepStatus.SKIPPED,
                    f"rollout {group} is at its limit: {', '.join(left) or 'hosts'} left out of service by an "
                    "earlier run; apply their changes first",
                )
        self.queued.clear()

    def run(self) -> ApplyReport:
        pool = DaemonPool(max(1, self.concurrency * 2), name="step")
        self.running: dict[Future[StepResult], Address] = {}
        self.submitted: dict[Address, Future[StepResult]] = {}  # the same, by address
        self.completions: queue.SimpleQueue[Future[StepResult] | None] = queue.SimpleQueue()
        try:
            with self.stop.listening(lambda: self.completions.put(None)):  # a stop wakes the wait
                while not self.stop.is_set:
                    self._settle_screened()
                    for a in self._admit([a for a in self.ready if a not in self.finished]):
                        future = pool.submit(self.step, self.graph.nodes[a])
                        self.running[future], self.submitted[a] = a, future
                        future.add_done_callback(self.completions.put)
                    self.ready.clear()
                    if not self.running:
                        self._starved()
                        break
                    self._take(self._wait_s())
                if self.stop.is_set:
                    self._stopping()
        finally:
            pool.shutdown(cancel_futures=True)
        return self.report

    def _settle_screened(self) -> None:
        for a in [a for a in self.skipped if a not in self.finished]:
            self._settle(a, StepStatus.SKIPPED, self.skipped[a])
        for a in [a for a in self.held if a not in self.finished]:
            self._settle(a, StepStatus.HELD, self.held[a])

    def _wait_s(self) -> float:
        """How long to wait for a completion before looking at the deadlines again. Only the steps holding a
        provider slot have one (a few per provider), never the thousands that may wait for a slot."""
        started = list(self.deadlines.values())  # one C-level copy: workers add and remove entries
        if not started:
            return WAKE_S
        return max(0.0, min(WAKE_S, min(started) + self.grace_s - self.monotonic()))

    def _take(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for finished steps (a stop wakes it) and record them; then abandon the steps
        still running ``grace_s`` after their deadline."""
        # Finished steps arrive through a queue: waiting on every running future at each turn would cost
        # O(running) per step (a thousand independent creates run at once).
        completed: list[Future[StepResult] | None] = []
        with contextlib.suppress(queue.Empty):
            completed.append(self.completions.get(timeout=timeout_s))
            while True:
                completed.append(self.completions.get_nowait())
        for future in completed:
            a = self.running.pop(future, None) if future is not None else None
            if future is not None and a is not None:
                del self.submitted[a]
                result = future.result()
                self._completed(a, result)
                self.hooks.post_apply(result)
        now = self.monotonic()
        for a, deadline in list(self.deadlines.items()):
            overdue = self.submitted.get(a)
            if overdue is not None and now >= deadline + self.grace_s:
                self._abandon(overdue, f"still running {self.grace_s:g}s after its deadline")

    def _abandon(self, future: Future[StepResult], why: str) -> None:
        """Give up waiting for a running step: failed, saying it may still finish (its thread is left)."""
        a = self.running.pop(future)
        del self.submitted[a]
        result = StepResult(
            a,
            self.graph.nodes[a].action,
            StepStatus.FAILED,
            f"{why}: abandoned; it may still finish, run apply again to check",
        )
        self._completed(a, result)
        self.hooks.post_apply(result)

    def _stopping(self) -> None:
        """The run is stopping: skip what has not started, give the steps in flight ``grace_s`` (none when the
        stop is hard) to finish, then abandon them."""
        if not self.running and len(self.finished) == len(self.graph.nodes):
            return  # it stopped as the last step ended: nothing was cut short
        self.report.stopped = self.stop.reason
        self._settle_screened()  # held and skipped keep their own reason
        reason = f"not started: the run stopped ({self.stop.reason})"
        for a in self.graph.nodes:
            if a not in self.finished and a not in self.submitted:
                self._settle(a, StepStatus.SKIPPED, reason)
        self.queued.clear()
        grace = 0.0 if self.stop.hard else self.grace_s
        if self.running:
            self.hooks.stopping(self.stop.reason, len(self.running), grace)
        end = self.monotonic() + grace
        while self.running and not self.stop.hard and self.monotonic() < end:
            self._take(min(WAKE_S, end - self.monotonic()))
            for a in [a for a in self.ready if a not in self.finished]:  # released by a step that just ended
                self._settle(a, StepStatus.SKIPPED, reason)
            self.ready.clear()
        for future in list(self.running):
            self._abandon(future, f"in flight when the run stopped ({self.stop.reason})")
