"""One step of an apply: re-read the object, re-plan it, and act (a provider call, or the kind's
procedure), retrying temporary errors with backoff. Re-reading first makes a repeated or resumed step
harmless: a previous run, or a previous attempt, may already have done the work."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from reconciler.core.changes import Action, ActionReason, ResourceChange
from reconciler.core.errors import ReconcilerError, TemporaryError
from reconciler.core.resources import Resource
from reconciler.engine import planner
from reconciler.engine.procedures import host_reboot
from reconciler.engine.refresh import LONG_WAIT_S, before_retry, retry_wait
from reconciler.engine.results import StepResult, StepStatus
from reconciler.engine.stop import Stopped
from reconciler.providers.base import Progress, Provider

if TYPE_CHECKING:
    from reconciler.engine.applier import Applier


class Step:
    """The step function the walk runs on worker threads; at most ``concurrency`` calls per provider."""

    def __init__(self, applier: Applier) -> None:
        self.applier = applier
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}

    def run(self, change: ResourceChange) -> StepResult:
        try:
            return self._guarded(change)
        except Exception as exc:  # a bug must fail one step with a message, not the run with a traceback
            return StepResult(change.address, change.action, StepStatus.FAILED, f"internal error: {exc!r}")

    def _slot(self, provider: Provider) -> threading.Semaphore:
        with self._lock:
            return self._slots.setdefault(provider.name, threading.Semaphore(self.applier.settings.concurrency))

    def _guarded(self, change: ResourceChange) -> StepResult:
        a = self.applier
        resource = a.resources.get(change.address) or _deleted(change)
        started = time.monotonic()
        a.hooks.pre_apply(change)
        tries = 0
        retrying = Retrying(
            retry=retry_if_exception_type(TemporaryError),
            stop=stop_after_attempt(a.settings.attempts),
            wait=retry_wait,
            sleep=a.sleep,  # ends when the run stops, fails when it would pass the step's deadline
            before_sleep=before_retry(self._retrying(change), str(change.address)),
            reraise=True,
        )

        def result(status: str, message: str = "") -> StepResult:
            return StepResult(change.address, change.action, status, message, time.monotonic() - started, tries)

        try:
            provider = a.router.provider(resource)
            with self._slot(provider), a.step_deadline(change.address):
                if a.stop.is_set:  # stopped while it waited for its slot: it never started
                    return result(StepStatus.SKIPPED, f"not started: the run stopped ({a.stop.reason})")
                for attempt in retrying:
                    with attempt:
                        tries += 1
                        outcome = self._once(change, resource, provider)
                        if outcome is not None:
                            return result(*outcome)
        except Stopped as exc:
            return result(
                StepStatus.FAILED,
                f"interrupted: the run stopped ({exc.reason}) before this step finished; run apply again (what "
                "is done is found in sync)",
            )
        except ReconcilerError as exc:
            return result(StepStatus.FAILED, str(exc))
        return result(StepStatus.DONE)

    def _retrying(self, change: ResourceChange) -> Callable[[str, BaseException, float], None]:
        """Tells the UI (a progress message) before a temporary error's retry waits long (a server's
        Retry-After), and for how long; the short back-offs are not worth a line."""
        hooks = self.applier.hooks

        def told(_what: str, exc: BaseException, wait_s: float) -> None:
            if wait_s >= LONG_WAIT_S:
                hooks.progress(change, f"temporary error ({exc}); retrying in {wait_s:.0f}s")

        return told

    def _once(self, change: ResourceChange, resource: Resource, provider: Provider) -> tuple[str, str] | None:
        """One attempt: the (status, message) it ended with, or None when it acted."""
        a = self.applier
        current = provider.read_one(resource)  # the live object may have changed, or a run may have done it
        if change.action is Action.DELETE:
            if current is None:
                return StepStatus.ALREADY, "already gone"
            provider.apply(change, resource)
            return None
        unfinished = a.unfinished.get(change.address)
        fresh = planner.plan_one(resource, current, unfinished=unfinished.note() if unfinished else "")
        if fresh.error:
            raise ReconcilerError(fresh.error)
        if not fresh.is_change:
            return StepStatus.ALREADY, "already as wanted"
        allowed = not fresh.disruptive or a.may_disrupt(resource)
        procedure = a.procedure(resource.kind)
        if procedure is not None:
            held = procedure.run(fresh, resource, allowed=allowed, progress=self._progress(change))
            if isinstance(held, host_reboot.Held):
                why = f"held: {fresh.disruptive}"
                return StepStatus.HELD, f"{held.message}; {why}" if held.message else why
            return None
        if not allowed:  # became disruptive since the plan
            return StepStatus.HELD, f"held: {fresh.disruptive}"
        self._vacate(change)
        provider.apply(fresh, resource, progress=self._progress(change))
        return None

    def _vacate(self, change: ResourceChange) -> None:
        """The first halves of the replaces this change must come after (``ResourceChange.vacates``): each
        dependent's object is deleted now, unless it is gone already; its own step creates it again later."""
        a = self.applier
        for address in change.vacates:
            dependent = a.resources.get(address)
            if dependent is None:  # a plan file naming a resource the specs no longer hold: nothing to vacate
                continue
            provider = a.router.provider(dependent)
            current = provider.read_one(dependent)
            if current is None:
                continue
            first_half = ResourceChange(
                address=address,
                action=Action.DELETE,
                action_reason=ActionReason.REPLACE,
                before=dict(current.data),
                after=None,
                reason=f"deleted before {change.address} changes; created again after it",
                site=dependent.site,
                tenant=dependent.tenant,
            )
            provider.apply(first_half, dependent, progress=self._progress(change))

    def _progress(self, change: ResourceChange) -> Progress:
        hooks = self.applier.hooks
        return lambda message: hooks.progress(change, message)


def _deleted(change: ResourceChange) -> Resource:
    """The resource a pruned object stood for: the specs no longer hold it, the plan still knows where."""
    return Resource(address=change.address, desired={}, site=change.site, tenant=change.tenant)
