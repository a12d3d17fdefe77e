"""Apply a plan: walk the dependency graph with bounded concurrency per provider, re-checking each
object before acting so that a repeated or resumed step is harmless.

Contract: a change starts only when every change it depends on has succeeded; when one fails, its
dependents are skipped and everything independent still runs; temporary errors are retried with
backoff. A disruptive change (a VM must be off, a host must reboot) is held unless the run allows
disruption or the resource's maintenance window is open; changes of one rollout group (a power
profile's hosts) run at most ``max_unavailable`` at once and stop at the group's first failure.
The UI follows along through ``Hooks`` (the engine never prints)."""

from __future__ import annotations

import collections
import contextlib
import datetime
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from reconciler.core.addresses import Address
from reconciler.core.changes import Action, Plan, ResourceChange
from reconciler.core.errors import ReconcilerError, TemporaryError
from reconciler.core.resources import Resource, Rollout
from reconciler.engine import planner, windows
from reconciler.engine.graph import Graph
from reconciler.engine.refresh import retry_wait
from reconciler.providers.base import Provider
from reconciler.providers.routing import Router


class StepStatus:
    DONE = "done"
    ALREADY = "already-converged"
    FAILED = "failed"
    SKIPPED = "skipped"
    HELD = "held"  # disruptive, and neither --allow-disruption nor an open maintenance window


@dataclass(frozen=True)
class StepResult:
    address: Address
    action: Action
    status: str
    message: str = ""
    duration_s: float = 0.0
    attempts: int = 1


@dataclass
class ApplyReport:
    results: list[StepResult] = field(default_factory=list)

    def by_status(self, status: str) -> list[StepResult]:
        return [r for r in self.results if r.status == status]

    @property
    def ok(self) -> bool:
        return not self.by_status(StepStatus.FAILED) and not self.by_status(StepStatus.SKIPPED)


class Hooks:
    """UI callbacks; the default does nothing. Called from worker threads."""

    def pre_apply(self, change: ResourceChange) -> None:
        pass

    def post_apply(self, result: StepResult) -> None:
        pass

    def progress(self, change: ResourceChange, message: str) -> None:
        """A long-running step reports progress (a job's state, a host coming back)."""


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
) -> ApplyReport:
    """Carry out the plan's pending changes; see the module docstring for the contract."""
    hooks = hooks or Hooks()
    clock = now or datetime.datetime.now(datetime.UTC)

    def may_disrupt(resource: Resource) -> bool:
        rollout = resource.policy.rollout
        window = rollout.window if rollout is not None else None
        return allow_disruption or (window is not None and windows.is_open(window, clock))

    report = ApplyReport()
    pending = plan.pending
    blocked = {c.address for c in plan.errors}
    graph = Graph(pending)
    # A change whose dependency could not even be planned cannot run.
    lock = threading.Lock()
    done: set[Address] = set()
    finished: set[Address] = set()
    skipped_for: dict[Address, str] = {}
    held: dict[Address, str] = {}
    for a in graph.nodes:
        missing = [d for d in graph.nodes[a].depends_on if d in blocked]
        if missing:
            skipped_for[a] = f"depends on {missing[0]}, which has an error"
        elif graph.nodes[a].disruptive and not may_disrupt(resources[a]):
            held[a] = f"held: {graph.nodes[a].disruptive} (use --allow-disruption or wait for the maintenance window)"
    for a in list(held):
        for d in graph.downstream([a]):
            held.setdefault(d, f"held: waits for {a}, which is held")
    semaphores: dict[str, threading.Semaphore] = {}
    rollouts: dict[str, threading.Semaphore] = {}
    stopped: dict[str, str] = {}  # rollout group -> why it stopped

    def rollout_gate(resource: Resource) -> threading.Semaphore | None:
        rollout = resource.policy.rollout
        if rollout is None:
            return None
        with lock:
            return rollouts.setdefault(rollout.group, threading.Semaphore(max(1, rollout.max_unavailable)))

    @contextlib.contextmanager
    def rollout_slot(change: ResourceChange, resource: Resource) -> Iterator[None]:
        """Hold one of the group's ``max_unavailable`` slots. A failure stops the group before the slot
        is released: otherwise the next host could take the slot and start before the stop is seen."""
        rollout = resource.policy.rollout
        gate = rollout_gate(resource) if change.disruptive else None
        if rollout is None or gate is None:
            yield
            return
        with gate:
            try:
                yield
            except Exception:
                with lock:
                    stopped.setdefault(rollout.group, f"{change.address} failed")
                raise

    def semaphore(provider: Provider) -> threading.Semaphore:
        with lock:
            return semaphores.setdefault(provider.name, threading.Semaphore(concurrency))

    def step(change: ResourceChange) -> StepResult:
        try:
            return guarded_step(change)
        except Exception as exc:  # a bug must fail one step with a message, not the run with a traceback
            return StepResult(change.address, change.action, StepStatus.FAILED, f"internal error: {exc!r}")

    def guarded_step(change: ResourceChange) -> StepResult:
        resource = resources.get(change.address) or _deleted(change)
        provider = router.provider(resource)
        started = time.monotonic()
        hooks.pre_apply(change)
        tries = 0
        retrying = Retrying(
            retry=retry_if_exception_type(TemporaryError),
            stop=stop_after_attempt(attempts),
            wait=retry_wait,
            sleep=sleep,
            reraise=True,
        )
        rollout = resource.policy.rollout
        try:
            with semaphore(provider), rollout_slot(change, resource):
                if rollout is not None and rollout.group in stopped:
                    return StepResult(
                        change.address, change.action, StepStatus.SKIPPED, f"rollout stopped: {stopped[rollout.group]}"
                    )
                for attempt in retrying:
                    with attempt:
                        tries += 1
                        # Re-check: the live object may have changed, or a previous run may have done it.
                        current = provider.read_one(resource)
                        if change.action is Action.DELETE:
                            if current is None:
                                return StepResult(
                                    change.address,
                                    change.action,
                                    StepStatus.ALREADY,
                                    "already gone",
                                    time.monotonic() - started,
                                    tries,
                                )
                            provider.apply(change, resource)
                            continue
                        fresh = planner.plan_one(resource, current)
                        if fresh.error:
                            raise ReconcilerError(fresh.error)
                        if not fresh.is_change:
                            return StepResult(
                                change.address,
                                change.action,
                                StepStatus.ALREADY,
                                "already as wanted",
                                time.monotonic() - started,
                                tries,
                            )
                        if fresh.disruptive and not may_disrupt(resource):  # became disruptive since the plan
                            return StepResult(
                                change.address, change.action, StepStatus.HELD, f"held: {fresh.disruptive}"
                            )
                        provider.apply(fresh, resource, progress=lambda message: hooks.progress(change, message))
        except ReconcilerError as exc:
            return StepResult(
                change.address, change.action, StepStatus.FAILED, str(exc), time.monotonic() - started, tries
            )
        return StepResult(change.address, change.action, StepStatus.DONE, "", time.monotonic() - started, tries)

    # Scheduling is linear in changes + edges: each change counts the dependencies it still waits for,
    # and a finished change releases its dependents.
    waiting = {a: len(deps) for a, deps in graph.waits_for.items()}
    ready: list[Address] = [a for a, n in waiting.items() if n == 0]
    # A rollout step is not even submitted while its group is at max_unavailable: waiting inside a
    # worker would hold a thread and a provider slot that independent steps could use meanwhile.
    in_rollout: dict[str, int] = {}
    queued: dict[str, collections.deque[Address]] = {}

    def rollout_of(a: Address) -> Rollout | None:
        resource = resources.get(a)
        rollout = resource.policy.rollout if resource is not None else None
        return rollout if rollout is not None and graph.nodes[a].disruptive else None

    def admit(candidates: list[Address]) -> list[Address]:
        """The candidates that may start now; rollout steps over their group's limit wait in a queue."""
        out = []
        for a in candidates:
            rollout = rollout_of(a)
            if rollout is None:
                out.append(a)
            elif in_rollout.get(rollout.group, 0) < max(1, rollout.max_unavailable):
                in_rollout[rollout.group] = in_rollout.get(rollout.group, 0) + 1
                out.append(a)
            else:
                queued.setdefault(rollout.group, collections.deque()).append(a)
        return out

    def settle(a: Address, status: str, why: str) -> None:
        """Record a change that will not run (skipped or held) and tell the UI."""
        finished.add(a)
        result = StepResult(a, graph.nodes[a].action, status, why)
        report.results.append(result)
        hooks.post_apply(result)

    with ThreadPoolExecutor(max_workers=max(1, concurrency * 2)) as pool:
        running: dict[Future[StepResult], Address] = {}
        completions: queue.SimpleQueue[Future[StepResult]] = queue.SimpleQueue()
        while True:
            with lock:
                for a in [a for a in skipped_for if a not in finished]:
                    settle(a, StepStatus.SKIPPED, skipped_for[a])
                for a in [a for a in held if a not in finished]:
                    settle(a, StepStatus.HELD, held[a])
                launch = admit([a for a in ready if a not in finished])
                ready.clear()
            for a in launch:
                future = pool.submit(step, graph.nodes[a])
                running[future] = a
                future.add_done_callback(completions.put)
            if not running:
                break
            # Finished steps arrive through a queue: waiting on every running future at each turn would cost
            # O(running) per step (a thousand independent creates run at once).
            completed = [completions.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    completed.append(completions.get_nowait())
            for future in completed:
                a = running.pop(future)
                result = future.result()
                with lock:
                    finished.add(a)
                    report.results.append(result)
                    rollout = rollout_of(a)
                    if rollout is not None:  # a slot of the group is free: the next host may go
                        in_rollout[rollout.group] -= 1
                        waiting_hosts = queued.get(rollout.group)
                        if waiting_hosts:
                            ready.append(waiting_hosts.popleft())
                    if result.status in (StepStatus.DONE, StepStatus.ALREADY):
                        done.add(a)
                        for d in graph.dependents[a]:
                            waiting[d] -= 1
                            if waiting[d] == 0:
                                ready.append(d)
                    elif result.status == StepStatus.HELD:
                        for d in graph.downstream([a]):
                            held.setdefault(d, f"held: waits for {a}, which is held")
                    else:
                        for d in graph.downstream([a]):
                            skipped_for.setdefault(d, f"skipped: {a} failed")
                hooks.post_apply(result)
    return report


def _deleted(change: ResourceChange) -> Resource:
    """The resource a pruned object stood for: the specs no longer hold it, the plan still knows where."""
    return Resource(address=change.address, desired={}, site=change.site, tenant=change.tenant)


def resources_by_address(resources: Sequence[Resource]) -> dict[Address, Resource]:
    return {r.address: r for r in resources}
