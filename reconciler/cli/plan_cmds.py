"""``reconciler plan`` and ``reconciler apply``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from reconciler.core.addresses import Address
    from reconciler.core.changes import Plan, ResourceChange
    from reconciler.engine import applier
    from reconciler.runs.session import Session
    from reconciler.store.locks import LockSet

Targets = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        metavar="SELECTOR",
        help="Only this address, tenant/NAME, site/NAME or kind (and what it needs). Repeatable.",
    ),
]
Excludes = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        metavar="SELECTOR",
        help="Leave out this address, tenant/NAME, site/NAME or kind (and what needs it).",
    ),
]
Prune = Annotated[
    bool,
    typer.Option(
        "--prune",
        help="Delete live objects the specs no longer declare, if reconciler created them and they were "
        "marked lifecycle.prune (never protected ones).",
    ),
]
Estate = Annotated[
    Path | None,
    typer.Option("--estate", help="Embedded estate database (default .reconciler/estate.db or $RECONCILER_ESTATE)."),
]


def plan(
    path: Annotated[Path, typer.Argument(help="Spec folder or file.")] = Path("specs"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON (docs/plan-format.md).")] = False,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Save the plan for apply PLANFILE.")] = None,
    target: Targets = None,
    exclude: Excludes = None,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 0 when nothing changes, 2 when something would.")
    ] = False,
    show_unchanged: Annotated[bool, typer.Option("--show-unchanged", help="List in-sync resources too.")] = False,
    summary: Annotated[
        bool,
        typer.Option(
            "--summary",
            help="Counts per kind and per site or tenant instead of every change (for large plans; -o still "
            "saves every change).",
        ),
    ] = False,
    prune: Prune = False,
    estate: Estate = None,
) -> None:
    """Read the live estate and show what apply would change, field by field."""
    from reconciler.cli.run_errors import exits_on_run_errors

    with exits_on_run_errors():
        _plan(
            path,
            as_json=as_json,
            out_file=out_file,
            targets=target or [],
            excludes=exclude or [],
            detailed_exitcode=detailed_exitcode,
            show_unchanged=show_unchanged,
            summary=summary,
            prune=prune,
            estate=estate,
        )


def _plan(
    path: Path,
    *,
    as_json: bool,
    out_file: Path | None,
    targets: list[str],
    excludes: list[str],
    detailed_exitcode: bool,
    show_unchanged: bool,
    summary: bool,
    prune: bool,
    estate: Path | None,
) -> None:
    from reconciler.cli import progress
    from reconciler.cli.consoles import err, out
    from reconciler.reports import json_document, plan_text
    from reconciler.runs import plan as run_plan
    from reconciler.runs import run_history

    run = run_history.ReportRun("plan")
    session = progress.load([path], targets=targets, excludes=excludes, estate=estate)
    found = run_plan.plan(
        session, targets=targets, excludes=excludes, prune=prune, progress=progress.read_progress(not as_json)
    )
    result, document = found.plan, found.document  # shown and saved without a secret value (docs/logging.md)
    if as_json:
        json_document.write(document, sys.stdout)  # line by line: a 1,000-tenant plan is 35 MB of JSON
    elif summary:
        plan_text.counts_view(out, result)
    else:
        plan_text.render(out, result, show_unchanged=show_unchanged)
    if out_file is not None:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        partial = out_file.with_name(out_file.name + ".partial")  # a half-written plan never has the name
        with partial.open("w", encoding="utf-8") as saved:
            json_document.write(document, saved)
        partial.replace(out_file)
        err.print(f"Saved the plan to {out_file}; apply exactly it with: reconciler apply {out_file}")
    run_plan.record(run, found)  # a store that cannot be written is only a warning: a plan changes nothing
    if result.errors:
        raise typer.Exit(1)
    if detailed_exitcode and result.pending:
        raise typer.Exit(2)


def _is_plan_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ".json"


def _progress() -> applier.Hooks:
    """Hooks that print each finished step (built lazily: the engine is imported only to apply)."""
    from rich.markup import escape

    from reconciler.cli.consoles import err, out
    from reconciler.engine import applier
    from reconciler.runs.logs import redactor

    class Progress(applier.Hooks):
        def post_apply(self, result: applier.StepResult) -> None:
            _print_step(result)

        def progress(self, change: ResourceChange, message: str) -> None:
            # A long-running job's state as it moves (an ASR job, a host restarting), on stderr: stdout keeps
            # one line per finished step.
            err.print(
                f"  [dim]… {escape(str(change.address))}: {escape(redactor().text(message))}[/dim]", highlight=False
            )

    def _print_step(result: applier.StepResult) -> None:
        marks = {
            applier.StepStatus.DONE: "[green]✓[/green]",
            applier.StepStatus.ALREADY: "[green]=[/green]",
            applier.StepStatus.FAILED: "[red]✗[/red]",
            applier.StepStatus.SKIPPED: "[yellow]-[/yellow]",
            applier.StepStatus.HELD: "[yellow]‖[/yellow]",
        }
        tail = f" [dim]({result.duration_s:.2f}s)[/dim]" if result.duration_s else ""
        message = f": {escape(result.message)}" if result.message else ""
        retried = f" [dim]after {result.attempts} attempts[/dim]" if result.attempts > 1 else ""
        out.print(
            f"{marks[result.status]} {result.action} {escape(str(result.address))}{tail}{retried}{message}",
            highlight=False,
        )

    return Progress()


def _confirm(yes: bool) -> None:
    from reconciler.cli.consoles import err

    if yes:
        return
    if not sys.stdin.isatty():
        err.print("[red]Refusing to apply without --yes: standard input is not a terminal to confirm on.[/red]")
        raise typer.Exit(1)
    if not typer.confirm("Apply these changes?", default=False):
        err.print("Nothing applied.")
        raise typer.Exit(1)


def _lock_scopes(session: Session, timeout_s: float) -> LockSet:
    """Lock every site and tenant the run touches (all or none) until apply ends; one apply per scope."""
    from rich.markup import escape
    from sqlalchemy.exc import SQLAlchemyError

    from reconciler.cli.consoles import err
    from reconciler.store import db, locks

    scopes = {f"site/{r.site}" for r in session.resources if r.site}
    scopes |= {f"tenant/{r.tenant}" for r in session.resources if r.tenant}
    try:
        return locks.acquire(scopes, command="reconciler apply", timeout_s=timeout_s)
    except locks.LockHeld as exc:
        session.close()
        scope = escape(exc.scope)
        waited = f" (still held after {timeout_s:g}s)" if timeout_s else ""
        err.print(
            f"[red]another apply holds {scope}:[/red] {escape(exc.holder)} pid {exc.pid} since {exc.acquired_at} "
            f"({escape(exc.command)}){waited}; wait with --lock-timeout or, if that process is gone, "
            f"reconciler force-unlock {scope}",
            highlight=False,
        )
        raise typer.Exit(1) from exc
    except SQLAlchemyError as exc:
        session.close()
        err.print(f"[red]error:[/red] cannot take the apply locks in {escape(db.shown_url())}: {escape(str(exc))}")
        raise typer.Exit(1) from exc


def apply(
    path: Annotated[Path, typer.Argument(help="Spec folder or file, or a plan file saved with plan -o.")] = Path(
        "specs"
    ),
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    target: Targets = None,
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
    lock_timeout: Annotated[
        float,
        typer.Option(
            "--lock-timeout", min=0, metavar="SECONDS", help="Wait this long for another apply's scope locks."
        ),
    ] = 0,
) -> None:
    """Show the plan, confirm, then converge the estate: dependency order, parallel, re-checked steps."""
    from rich.markup import escape

    from reconciler.cli import progress
    from reconciler.cli.consoles import err, out
    from reconciler.cli.run_errors import exits_on_run_errors
    from reconciler.engine import applier
    from reconciler.reports import plan_json, plan_text
    from reconciler.runs import audit, logs, run_history
    from reconciler.runs.session import make_plan

    saved: Plan | None = None
    if _is_plan_file(path):
        try:
            saved, spec_paths = plan_json.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, plan_json.PlanFormatError) as exc:
            err.print(f"[red]error:[/red] {path}: {exc}")
            raise typer.Exit(1) from exc
        if target or exclude:
            err.print("[red]--target/--exclude do not apply to a saved plan: it was targeted when made.[/red]")
            raise typer.Exit(1)
        targets, excludes = list(saved.targets), list(saved.excludes)
        paths = [Path(p) for p in spec_paths] or [Path("specs")]
    else:
        targets, excludes = target or [], exclude or []
        paths = [path]
    with exits_on_run_errors():
        session = progress.load(paths, targets=targets, excludes=excludes, estate=estate)
    held = _lock_scopes(session, lock_timeout)  # another apply holds a scope: exit 1, nothing read or changed
    try:
        # A saved plan that deletes was made with --prune: it was reviewed with its deletes.
        deletes = saved is not None and any(c.action.value == "delete" for c in saved.pending)
        with exits_on_run_errors():
            current = make_plan(
                session, targets=targets, excludes=excludes, progress=progress.ReadBar(), prune=prune or deletes
            )
        if saved is not None:
            from reconciler.engine import staleness

            if saved.spec_digest != current.spec_digest:
                _refuse_stale(err, f"The specs changed since {path} was made", staleness.spec_changes(saved, current))
            moved = staleness.live_changes(saved, current)
            if moved:
                _refuse_stale(err, f"The live state changed since {path} was made", moved)
            wanted = {c.address for c in saved.pending}
            current = _only(current, wanted)
        if saved is None:  # errors are listed by name and message even in the summary: redacted both ways
            shown = audit.redact_plan(current)
            (plan_text.counts_view if summary else plan_text.render)(out, shown)
        else:  # reviewed already: say what will be applied, not the whole plan again
            out.print(f"Applying the saved plan {path} (made {saved.created_at}):", highlight=False)
            plan_text.summary(out, current)
        if current.errors:
            err.print("[red]The plan has errors: nothing applied.[/red] Fix the specs, or --exclude those addresses.")
            raise typer.Exit(1)
        if not current.pending:
            run_history.record_nothing(current, session.spec_paths)  # a run with no steps
            raise typer.Exit(0)
        _confirm(yes)
        with exits_on_run_errors():  # the audit trail (docs/logging.md): exit 1 here if it cannot be written
            run = audit.start_apply(
                current,
                plan_file=str(path) if saved is not None else None,
                concurrency=concurrency,
                allow_disruption=allow_disruption,
            )
        resources = applier.resources_by_address(session.resources)
        # The history store (runs, steps, last_applied): exit 1 here if it is unusable, before any change.
        with exits_on_run_errors():
            history = run_history.begin(run.run_id, current, session.spec_paths, resources)
        history.confirm_in_sync(current)
        report: applier.ApplyReport | None = None
        try:
            report = applier.apply_plan(
                current,
                resources,
                session.providers,
                concurrency=concurrency,
                hooks=history.hooks(run.hooks(_progress())),
                allow_disruption=allow_disruption,
            )
        finally:
            history.end(report)  # None: interrupted
    finally:
        held.release()
        session.close()
    run.end(report)
    done = report.by_status(applier.StepStatus.DONE) + report.by_status(applier.StepStatus.ALREADY)
    failed = report.by_status(applier.StepStatus.FAILED)
    skipped = report.by_status(applier.StepStatus.SKIPPED)
    on_hold = report.by_status(applier.StepStatus.HELD)
    colour = "red" if failed or skipped else "yellow" if on_hold else "green"
    out.print(
        f"\n[bold {colour}]Apply {'finished with failures' if failed else 'complete'}:[/bold {colour}] "
        f"{len(done)} done, {len(failed)} failed, {len(skipped)} skipped"
        + (f", {len(on_hold)} held." if on_hold else ".")
    )
    if on_hold:
        out.print(
            f"{len(on_hold)} change{'s' * (len(on_hold) != 1)} held (disruptive, or waiting on one): rerun with "
            "--allow-disruption, or inside the maintenance window, to carry them out."
        )
    for r in failed:
        out.print(f"  [red]✗[/red] {escape(str(r.address))}: {escape(logs.redact(r.message))}", highlight=False)
    if failed or skipped:
        out.print("Run apply again once the cause is fixed: finished steps are not repeated.")
        raise typer.Exit(1)


def _refuse_stale(err: Console, headline: str, lines: list[str]) -> NoReturn:
    from rich.markup import escape

    err.print(f"[red]{headline}:[/red] refusing to apply a plan nobody reviewed.")
    for line in lines[:50]:
        err.print(f"  {escape(line)}", highlight=False)
    if len(lines) > 50:
        err.print(f"  ... and {len(lines) - 50} more")
    err.print("Run plan -o again and review the new plan.")
    raise typer.Exit(1)


def _only(plan: Plan, wanted: set[Address]) -> Plan:
    """The current plan restricted to what the saved plan would change (nothing new slips in)."""
    from reconciler.core.changes import Plan

    changes = tuple(c for c in plan.changes if c.address in wanted or not c.is_change)
    return Plan(
        changes=changes,
        created_at=plan.created_at,
        spec_digest=plan.spec_digest,
        targets=plan.targets,
        excludes=plan.excludes,
    )
