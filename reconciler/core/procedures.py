"""The journal of multi-step host procedures, as data: what the engine wrote down before each disruptive
step of a host rollout (enter maintenance, stage settings, restart, confirm, leave), so that a run killed
half way is found, shown ("HV01 in maintenance since ..., by run ...") and finished or unwound by the next.

Write-ahead: a step is journaled before it is attempted, so the journal never claims less than happened.
``engine.procedures`` writes it; ``store.journal`` keeps it in the history store; the planner reads it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from reconciler.core.addresses import Address


class Step(enum.StrEnum):
    """How far a host procedure got, in order. A journal entry names the step it is about to take or took."""

    STARTED = "started"
    ENTERING = "entering-maintenance"  # about to enter maintenance mode (the VMs are moved off)
    IN_MAINTENANCE = "in-maintenance"
    STAGED = "staged"  # the settings wait on the BMC for the next reset
    RESTARTING = "restarting"  # about to reset the host
    RESTARTED = "restarted"  # the reset was accepted; not yet confirmed
    CONFIRMED = "confirmed"  # the host is back and the settings took
    LEAVING = "leaving-maintenance"

    @property
    def rank(self) -> int:
        return list(Step).index(self)


class Outcome(enum.StrEnum):
    OPEN = "open"  # still running, or left half done by a run that died or failed
    DONE = "done"  # confirmed, and out of maintenance (when the procedure put it there)
    UNWOUND = "unwound"  # given up before the restart: left maintenance, the change is still to do
    FAILED_SAFE = "failed-safe"  # failed before touching the host: nothing to finish


@dataclass(frozen=True, slots=True)
class ProcedureRecord:
    """One host procedure: ``address`` is the change it carries out (``bmc.bios:site/host``), ``host`` the
    host it takes out (``host.state:site/host``). ``ours`` says this procedure put the host in maintenance
    (a host an operator put there stays there)."""

    id: str
    run_id: str
    procedure: str
    address: Address
    host: Address
    group: str  # the rollout group: its maxUnavailable counts hosts left out by earlier runs too
    step: Step
    outcome: Outcome
    ours: bool
    started_at: str
    updated_at: str
    detail: str = ""

    @property
    def open(self) -> bool:
        return self.outcome is Outcome.OPEN

    def at(
        self, step: Step, *, updated_at: str, ours: bool | None = None, detail: str | None = None
    ) -> ProcedureRecord:
        return replace(
            self,
            step=step,
            updated_at=updated_at,
            ours=self.ours if ours is None else ours,
            detail=self.detail if detail is None else detail,
        )

    def note(self) -> str:
        """How plan and drift describe an open procedure, e.g. ``HV01 in maintenance since ..., by run ...``."""
        if self.step is Step.ENTERING:
            where = "entering maintenance"
        elif self.ours and self.step.rank >= Step.IN_MAINTENANCE.rank:
            where = "in maintenance"
        else:
            where = self.step.value.replace("-", " ")
        why = f": {self.detail}" if self.detail else ""
        return (
            f"{self.host.name} {where} since {self.started_at}, by run {self.run_id} (step {self.step.value}{why}); "
            "apply finishes it, or unwinds it if the change is held"
        )
