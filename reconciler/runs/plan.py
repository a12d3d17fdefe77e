"""A plan run (``reconciler plan``): read the live state, plan, log ``plan.done``, and hand back the plan and
its JSON document (docs/plan-format.md) redacted: what is shown, saved with ``-o`` and recorded never holds
a secret value (docs/logging.md). Changes nothing; the run and its report are recorded at the end, after
the caller has shown it (:func:`record`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reconciler.engine.stop import NEVER, Stop
from reconciler.reports import plan_json
from reconciler.runs import audit, logs
from reconciler.runs.clock import SYSTEM, Clock
from reconciler.runs.session import ReadProgress, Session, make_plan

if TYPE_CHECKING:
    from reconciler.core.changes import Plan
    from reconciler.runs.run_history import ReportRun


@dataclasses.dataclass(frozen=True)
class PlanResult:
    plan: Plan  # redacted
    document: dict[str, Any]  # its JSON document, redacted
    spec_paths: list[str]


def plan(
    session: Session,
    *,
    targets: Sequence[str],
    excludes: Sequence[str],
    prune: bool = False,
    progress: ReadProgress | None = None,
    clock: Clock = SYSTEM,
    stop: Stop = NEVER,
) -> PlanResult:
    """Plan ``session``, then close it and let its resources go before the report is built, so that the
    report reuses their memory (1,000 tenants: ~100 MB). A ``stop`` ends the read: :class:`RunInterrupted`."""
    try:
        result = make_plan(
            session, targets=targets, excludes=excludes, progress=progress, prune=prune, clock=clock, stop=stop
        )
    finally:
        session.close()
    session.release()
    audit.plan_done(result)
    shown = audit.redact_plan(result)
    # The changes come from the redacted plan; the rest of the document is redacted here. Sealed last: apply
    # takes the file only as it was written (its checksum).
    document = plan_json.seal(
        {
            key: value if key == "changes" else logs.redact(value)
            for key, value in plan_json.to_dict(shown, spec_paths=session.spec_paths).items()
        }
    )
    return PlanResult(shown, document, session.spec_paths)


def record(run: ReportRun, found: PlanResult) -> bool:
    """The plan run and its report in the history store; a store that cannot be written is only a warning
    (a plan changes nothing): False then."""
    from reconciler.runs.run_history import plan_result

    outcome, counts = plan_result(found.plan)
    return run.record(
        found.document, result=outcome, counts=counts, spec_paths=found.spec_paths, spec_digest=found.plan.spec_digest
    )
