"""``reconciler adopt ADDRESS...``: take over objects made outside reconciler (``runs.adopt``), shown, asked and
reported like an apply (the plan, the confirmation, a line per step, the summary).

Only typer is imported at module level; the runs layer and rich load when the command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.plan_cmds import Estate, LockTimeout


def adopt(
    addresses: Annotated[
        list[str],
        typer.Argument(
            metavar="ADDRESS",
            help="Addresses the specs declare, e.g. 'azure.resource_group:acmecorp/AcmeCorpRecoveryGroup'.",
        ),
    ],
    specs: Annotated[Path, typer.Option("--specs", metavar="PATH", help="Spec folder or file.")] = Path("specs"),
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Adopt without asking.")] = False,
    estate: Estate = None,
    lock_timeout: LockTimeout = 0,
) -> None:
    """Mark existing objects as reconciler's (tags, the ownership ledger), changing nothing else about them."""
    from reconciler.cli import apply_cmd, progress
    from reconciler.cli.consoles import out
    from reconciler.cli.run_errors import exits_on_run_errors
    from reconciler.cli.signals import graceful
    from reconciler.runs import adopt as run_adopt
    from reconciler.runs import clock
    from reconciler.runs.apply import ApplyStatus

    with graceful() as stop, exits_on_run_errors():
        now = clock.from_environ()
        session = progress.load([specs], targets=addresses, excludes=[], estate=estate)
        try:
            chosen = run_adopt.declared(session, addresses)
            observer = apply_cmd._observer(yes=yes, summary=False, saved=None)
            outcome = run_adopt.adopt_run(
                session, chosen, observer=observer, clock=now, lock_timeout_s=lock_timeout, stop=stop
            )
        finally:
            session.close()
    if outcome.status is ApplyStatus.NOTHING_TO_DO and not outcome.plan.errors:
        out.print("Nothing to adopt: every address already carries reconciler's ownership marker.")
        return
    if outcome.status is ApplyStatus.NOTHING_TO_DO:  # only errors: an object that does not exist
        raise typer.Exit(1)
    apply_cmd._finish(outcome, signalled=stop.signalled)
