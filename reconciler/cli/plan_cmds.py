"""``reconciler plan`` and ``reconciler apply``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from reconciler.core.addresses import Address
    from reconciler.core.changes import Plan
    from reconciler.engine import applier

Targets = Annotated[
    list[str] | None,
    typer.Option("--target", help="Only this address, tenant/NAME, site/NAME or kind (and what it needs). Repeatable."),
]
Excludes = Annotated[
    list[str] | None,
    typer.Option("--exclude", help="Leave out this address, tenant/NAME, site/NAME or kind (and what needs it)."),
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
    estate: Estate = None,
) -> None:
    """Read the live estate and show what apply would change, field by field."""
    from reconciler.cli.session import err, load, make_plan, out
    from reconciler.reports import plan_json, plan_text

    targets, excludes = target or [], exclude or []
    session = load([path], targets=targets, excludes=excludes, estate=estate)
    try:
        result = make_plan(session, targets=targets, excludes=excludes, progress=not as_json)
    finally:
        session.backends.close()
    document = plan_json.to_dict(result, spec_paths=session.spec_paths)
    if as_json:
        typer.echo(json.dumps(document, indent=2, default=str))
    else:
        plan_text.render(out, result, show_unchanged=show_unchanged)
    if out_file is not None:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
        err.print(f"Saved the plan to {out_file}; apply exactly it with: reconciler apply {out_file}")
    if result.errors:
        raise typer.Exit(1)
    if detailed_exitcode and result.pending:
        raise typer.Exit(2)


def _is_plan_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ".json"


def _progress() -> applier.Hooks:
    """Hooks that print each finished step (built lazily: the engine is imported only to apply)."""
    from rich.markup import escape

    from reconciler.cli.session import out
    from reconciler.engine import applier

    class Progress(applier.Hooks):
        def post_apply(self, result: applier.StepResult) -> None:
            _print_step(result)

    def _print_step(result: applier.StepResult) -> None:
        marks = {
            applier.StepStatus.DONE: "[green]✓[/green]",
            applier.StepStatus.ALREADY: "[green]=[/green]",
            applier.StepStatus.FAILED: "[red]✗[/red]",
            applier.StepStatus.SKIPPED: "[yellow]-[/yellow]",
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
    from reconciler.cli.session import err

    if yes:
        return
    if not sys.stdin.isatty():
        err.print("[red]Refusing to apply without --yes: standard input is not a terminal to confirm on.[/red]")
        raise typer.Exit(1)
    if not typer.confirm("Apply these changes?", default=False):
        err.print("Nothing applied.")
        raise typer.Exit(1)


def apply(
    path: Annotated[Path, typer.Argument(help="Spec folder or file, or a plan file saved with plan -o.")] = Path(
        "specs"
    ),
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    target: Targets = None,
    exclude: Excludes = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=256, help="Parallel steps per provider.")] = 8,
    estate: Estate = None,
) -> None:
    """Show the plan, confirm, then converge the estate: dependency order, parallel, re-checked steps."""
    from rich.markup import escape

    from reconciler.cli.session import err, load, make_plan, out
    from reconciler.engine import applier
    from reconciler.reports import plan_json, plan_text

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
        session = load(
            [Path(p) for p in spec_paths] or [Path("specs")], targets=targets, excludes=excludes, estate=estate
        )
    else:
        targets, excludes = target or [], exclude or []
        session = load([path], targets=targets, excludes=excludes, estate=estate)
    try:
        current = make_plan(session, targets=targets, excludes=excludes)
        if saved is not None:
            if saved.spec_digest != current.spec_digest:
                err.print(
                    f"[red]The specs changed since {path} was made:[/red] refusing to apply a plan nobody reviewed. "
                    "Run plan -o again."
                )
                raise typer.Exit(1)
            wanted = {c.address for c in saved.pending}
            current = _only(current, wanted)
        if saved is None:
            plan_text.render(out, current)
        else:  # reviewed already: say what will be applied, not the whole plan again
            out.print(f"Applying the saved plan {path} (made {saved.created_at}):", highlight=False)
            plan_text.summary(out, current)
        if current.errors:
            err.print("[red]The plan has errors: nothing applied.[/red] Fix the specs, or --exclude those addresses.")
            raise typer.Exit(1)
        if not current.pending:
            raise typer.Exit(0)
        _confirm(yes)
        resources = applier.resources_by_address(session.resources)
        report = applier.apply_plan(
            current, resources, session.backends.by_kind, concurrency=concurrency, hooks=_progress()
        )
    finally:
        session.backends.close()
    done = report.by_status(applier.StepStatus.DONE) + report.by_status(applier.StepStatus.ALREADY)
    failed = report.by_status(applier.StepStatus.FAILED)
    skipped = report.by_status(applier.StepStatus.SKIPPED)
    colour = "red" if failed or skipped else "green"
    out.print(
        f"\n[bold {colour}]Apply {'finished with failures' if failed else 'complete'}:[/bold {colour}] "
        f"{len(done)} done, {len(failed)} failed, {len(skipped)} skipped."
    )
    for r in failed:
        out.print(f"  [red]✗[/red] {escape(str(r.address))}: {escape(r.message)}", highlight=False)
    if failed or skipped:
        out.print("Run apply again once the cause is fixed: finished steps are not repeated.")
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
