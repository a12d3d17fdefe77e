"""What an apply reports, step by step, and the hooks through which the UI follows it (the engine never
prints): shared by the walk (``engine.walk``), the step (``engine.steps``) and the applier."""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.core.addresses import Address
from reconciler.core.changes import Action, ResourceChange


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
    stopped: str = ""  # why the run stopped before its end (a signal, its deadline); empty when it ran out

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

    def stopping(self, reason: str, in_flight: int, grace_s: float) -> None:
        """The run is stopping (``reason``: a signal, its deadline): nothing new starts, and ``in_flight`` steps
        get ``grace_s`` seconds to finish (0 when the stop is hard) before they are abandoned."""
