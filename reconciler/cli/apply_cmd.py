"""``reconciler apply``: load the session, then :func:`reconciler.runs.apply.apply_run` with an observer that
draws the live read's bar, shows the plan, asks, and prints a line per finished step; then the summary and
the exit code (0 done or nothing to do, 1 refused, declined, failed or skipped steps).

Only typer is imported at module level; the runs layer and rich load when the command runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler.cli.plan_cmds import Estate, Excludes, LockTimeout, Prune, Shard, Targets, with_shard
from reconciler.cli.signals import INTERRUPTED_EXIT

if TYPE_CHECKING:
    from reconciler.core.changes import Plan, ResourceChange
    from reconciler.engine import applier
    from reconciler.runs.apply import ApplyObserver, ApplyOutcome, SavedPlan


def _confirm(yes: bool) -> bool:
    from reconciler.cli.consoles import err

    if yes:
        return True
    if not sys.stdin.isatty():
        err.print("[red]Refusing to apply without --yes: standard input is not a terminal to confirm on.[/red]")
        return False
    if not typer.confirm("Apply these changes?", default=False):
        err.print("Nothing applied.")
        return False
    return True


def _step_lines() -> applier.Hooks:
    """Hooks that print each finished step on stdout, and a long-running step's progress on stderr."""
    from rich.markup import escape

    from reconciler.cli.consoles import err, out
    from reconciler.engine import applier

    marks = {
        applier.StepStatus.DONE: "[green]✓[/green]",
        applier.StepStatus.ALREADY: "[green]=[/green]",
        applier.StepStatus.FAILED: "[red]✗[/red]",
        applier.StepStatus.SKIPPED: "[yellow]-[/yellow]",
        applier.StepStatus.HELD: "[yellow]‖[/yellow]",
    }

    class StepLines(applier.Hooks):
        def post_apply(self, result: applier.StepResult) -> None:
            tail = f" [dim]({result.duration_s:.2f}s)[/dim]" if result.duration_s else ""
            message = f": {escape(result.message)}" if result.message else ""
            retried = f" [dim]after {result.attempts} attempts[/dim]" if result.attempts > 1 else ""
            out.print(
                f"{marks[result.status]} {result.action} {escape(str(result.address))}{tail}{retried}{message}",
                highlight=False,
            )

        def stopping(self, reason: str, in_flight: int, grace_s: float) -> None:
            again = f"; {reason} again to abandon them" if grace_s and reason.startswith("SIG") else ""
            err.print(
                f"[yellow]stopping ({escape(reason)}): nothing new starts; waiting up to {grace_s:g}s for "
                f"{in_flight} step{'s' * (in_flight != 1)} in flight{again}[/yellow]",
                highlight=False,
            )

        def progress(self, change: ResourceChange, message: str) -> None:
            # A long-running job's state as it moves (an ASR job, a host restarting), on stderr: stdout keeps
            # one line per finished step. The runs layer hands the message over redacted.
            err.print(f"  [dim]… {escape(str(change.address))}: {escape(message)}[/dim]", highlight=False)

    return StepLines()


def _observer(*, yes: bool, summary: bool, saved: SavedPlan | None) -> ApplyObserver:
    """What the run shows: the live read's bar, the plan (whole, as counts, or a saved plan's summary), the
    confirmation, each step."""
    from reconciler.cli import progress
    from reconciler.cli.consoles import out
    from reconciler.reports import plan_text
    from reconciler.runs.apply import ApplyObserver
    from reconciler.runs.session import ReadProgress

    class ApplyView(ApplyObserver):
        def read_progress(self) -> ReadProgress | None:
            return progress.ReadBar()

        def planned(self, plan: Plan) -> None:
            if saved is None:  # errors are listed by name and message even in the summary
                (plan_text.counts_view if summary else plan_text.render)(out, plan)
            else:  # reviewed already: say what will be applied, not the whole plan again
                out.print(f"Applying the saved plan {saved.path} (made {saved.plan.created_at}):", highlight=False)
                plan_text.summary(out, plan)

        def confirm(self, plan: Plan) -> bool:
            return _confirm(yes)

        def step_hooks(self) -> applier.Hooks:
            return _step_lines()

    return ApplyView()


def _finish(outcome: ApplyOutcome, *, signalled: bool) -> None:
    """The summary of an apply that ran, or why nothing was applied; exits 1 when anything failed, 130 when
    a signal stopped it (``signalled``)."""
    from reconciler.cli.consoles import err
    from reconciler.runs.apply import ApplyStatus

    if outcome.status is ApplyStatus.PLAN_HAS_ERRORS:
        err.print("[red]The plan has errors: nothing applied.[/red] Fix the specs, or --exclude those addresses.")
        raise typer.Exit(1)
    if outcome.status is ApplyStatus.DECLINED:
        raise typer.Exit(1)
    report = outcome.report
    if report is None:  # nothing to do: recorded as a run with no steps
        raise typer.Exit(0)
    unfinished = _summary(report)
    for warning in outcome.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, markup=False)
    if report.stopped and signalled:
        raise typer.Exit(INTERRUPTED_EXIT)
    if unfinished:
        raise typer.Exit(1)


def _summary(report: applier.ApplyReport) -> bool:
    """Print the summary; True when something failed, was skipped or never started (exit 1)."""
    from rich.markup import escape

    from reconciler.cli.consoles import out
    from reconciler.engine import applier
    from reconciler.runs import logs

    done = report.by_status(applier.StepStatus.DONE) + report.by_status(applier.StepStatus.ALREADY)
    failed = report.by_status(applier.StepStatus.FAILED)
    skipped = report.by_status(applier.StepStatus.SKIPPED)
    on_hold = report.by_status(applier.StepStatus.HELD)
    colour = "red" if failed or skipped else "yellow" if on_hold else "green"
    if report.stopped:
        headline = f"Apply stopped ({escape(report.stopped)})"
    else:
        headline = f"Apply {'finished with failures' if failed else 'complete'}"
    out.print(
        f"\n[bold {colour}]{headline}:[/bold {colour}] {len(done)} done, {len(failed)} failed, {len(skipped)} "
        "skipped" + (f", {len(on_hold)} held." if on_hold else "."),
        highlight=False,
    )
    if on_hold:
        out.print(
            f"{len(on_hold)} change{'s' * (len(on_hold) != 1)} held (disruptive, or waiting on one): rerun with "
            "--allow-disruption, or inside the maintenance window, to carry them out."
        )
    for r in failed:
        out.print(f"  [red]✗[/red] {escape(str(r.address))}: {escape(logs.redact(r.message))}", highlight=False)
    if report.stopped:
        out.print("Run apply again to finish: steps already done are found in sync, not repeated.")
    elif failed or skipped:
        out.print("Run apply again once the cause is fixed: finished steps are not repeated.")
    return bool(failed or skipped)


def apply(
    path: Annotated[
        Path, typer.Argument(metavar="PATH|PLANFILE", help="Spec folder or file, or a plan file saved with plan -o.")
    ] = Path("specs"),
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    target: Targets = None,
    shard: Shard = None,
    exclude: Excludes = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=256, metavar="N", help="Parallel steps per provider.")
    ] = 8,
    allow_disruption: Annotated[
        bool,
        typer.Option(
            "--allow-disruption",
            help="Carry out disruptive changes (stop VMs, reboot hosts in maintenance mode) outside their "
            "maintenance window. Without it they are held.",
        ),
    ] = False,
    prune: Prune = False,
    estate: Estate = None,
    summary: Annotated[
        bool,
        typer.Option("--summary", help="Show the plan as counts per kind and per site or tenant, not every change."),
    ] = False,
    lock_timeout: LockTimeout = 0,
) -> None:
    """Show the plan, confirm, then converge the estate: dependency order, parallel, re-checked steps."""
    from reconciler.cli import progress
    from reconciler.cli.consoles import err
    from reconciler.cli.run_errors import exits_on_run_errors
    from reconciler.cli.signals import graceful
    from reconciler.runs import apply as run_apply
    from reconciler.runs import clock

    with graceful() as stop, exits_on_run_errors():
        now = clock.from_environ()
        saved = run_apply.read_plan_file(path)  # by its content: p.plan, tfplan
        target = with_shard(target, shard)
        if saved is not None and (target or exclude):
            err.print("[red]--target/--exclude/--shard do not apply to a saved plan: it was targeted when made.[/red]")
            raise typer.Exit(1)
        request = run_apply.ApplyRequest(
            targets=tuple(saved.plan.targets if saved is not None else target or ()),
            excludes=tuple(saved.plan.excludes if saved is not None else exclude or ()),
            prune=prune,
            saved=saved,
            concurrency=concurrency,
            allow_disruption=allow_disruption,
            lock_timeout_s=lock_timeout,
        )
        paths = [path] if saved is None else [Path(p) for p in saved.spec_paths] or [Path("specs")]
        session = progress.load(paths, targets=request.targets, excludes=request.excludes, estate=estate)
        try:
            observer = _observer(yes=yes, summary=summary, saved=saved)
            outcome = run_apply.apply_run(session, request, observer=observer, clock=now, stop=stop)
        finally:
            session.close()
    _finish(outcome, signalled=stop.signalled)
