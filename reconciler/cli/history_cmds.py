"""``reconciler history`` and ``reconciler show RUN_ID``: past runs from the history store. ``show`` renders a
plan or drift run's stored report again, in any format; an apply run is shown with its steps.

Only typer is imported at module level; the store (SQLAlchemy, Alembic) loads when a command runs."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from reconciler.store.history import Run


class Format(enum.StrEnum):
    text = "text"
    json = "json"


class ShowFormat(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


class Kind(enum.StrEnum):
    plan = "plan"
    apply = "apply"
    drift = "drift"
    drill = "drill"


FormatOption = Annotated[Format, typer.Option("--format", "-f", metavar="[text|json]", help="text or json.")]


def _when(iso: str | None) -> str:
    """``2025-01-31 14:05:09`` (UTC) from the stored ISO time."""
    return iso[:19].replace("T", " ") if iso else "-"


def _counts(run: Run) -> str:
    if run.counts is None:
        return "-"
    return ", ".join(f"{n} {status}" for status, n in sorted(run.counts.items())) or "no steps"


def _duration(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s"


def _columns(rows: list[tuple[str, ...]]) -> str:
    """Aligned plain columns, the last one left ragged."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in rows
    )


def history(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, metavar="N", help="How many runs, newest first.")] = 20,
    output: FormatOption = Format.text,
    kind: Annotated[
        Kind | None,
        typer.Option("--kind", "-k", metavar="[plan|apply|drift|drill]", help="Only plan, apply, drift or drill runs."),
    ] = None,
) -> None:
    """List past runs (plan, apply, drift, drill): when, kind, user, result, counts, duration."""
    from reconciler.store import history as store_history

    runs = store_history.list_runs(limit, kind=kind.value if kind is not None else None)
    if output is Format.json:
        typer.echo(json.dumps([r.to_dict() for r in runs], indent=2))
        return
    if not runs:
        typer.echo("No runs recorded yet.")
        return
    header = ("run", "started (UTC)", "kind", "user", "result", "duration", "counts")
    rows = [
        (
            r.id,
            _when(r.started_at),
            r.kind,
            f"{r.user}@{r.host}",
            r.result or "running",
            _duration(r.duration_s),
            _counts(r),
        )
        for r in runs
    ]
    typer.echo(_columns([header, *rows]))


def show(
    run_id: Annotated[
        str, typer.Argument(metavar="RUN_ID", help="A run id, as listed by reconciler history.", show_default=False)
    ],
    output: Annotated[
        ShowFormat,
        typer.Option(
            "--format",
            "-f",
            metavar="[text|json|markdown|html]",
            help="text or json; a plan, drift or drill report also markdown or html (when available).",
        ),
    ] = ShowFormat.text,
) -> None:
    """Show one run: a plan, drift or drill run's report (rendered again), an apply run's steps."""
    from reconciler.runs import run_history
    from reconciler.store import history as store_history

    run = store_history.get_run(run_id.strip())
    if run is None:
        typer.echo(f"error: no run {run_id!r} in the history store (see reconciler history)", err=True)
        raise typer.Exit(1)
    if run.kind in ("plan", "drift", "drill"):
        document = store_history.get_report(run.id)
        if document is None:
            typer.echo(
                f"error: run {run.id} ({run.kind}) has no stored report: the store keeps the reports of the newest "
                f"plan, drift and drill runs ({run_history.REPORTS_KEPT_ENV}, default {store_history.REPORTS_KEPT})",
                err=True,
            )
            raise typer.Exit(1)
        _show_report(run, document, output)
        return
    if output in (ShowFormat.markdown, ShowFormat.html):
        typer.echo(f"error: an apply run is shown as text or json, not {output.value}", err=True)
        raise typer.Exit(1)
    if output is ShowFormat.json:
        typer.echo(json.dumps(run.to_dict(with_steps=True), indent=2))
        return
    lines = [
        f"run       {run.id} ({run.kind})",
        f"result    {run.result or 'running, or its process died'}",
        f"started   {_when(run.started_at)} UTC by {run.user}@{run.host}",
        f"finished  {_when(run.finished_at)}" + (f" UTC after {_duration(run.duration_s)}" if run.finished_at else ""),
        f"steps     {_counts(run)}",
        f"specs     digest {run.spec_digest or '-'}, commit {run.spec_commit or '-'}",
    ]
    typer.echo("\n".join(lines))
    if run.steps:
        header = ("result", "action", "address", "duration", "message")
        rows = [
            (
                s.result,
                s.action,
                s.address,
                _duration(s.duration_s) + (f" x{s.attempts}" if s.attempts > 1 else ""),
                s.message,
            )
            for s in run.steps
        ]
        typer.echo("")
        typer.echo(_columns([header, *rows]))


def _optional_renderer(module: str) -> Callable[..., str] | None:
    """``render`` of ``reconciler.reports.<module>``, when that renderer exists in this version."""
    import importlib

    try:
        found = importlib.import_module(f"reconciler.reports.{module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"reconciler.reports.{module}":
            raise
        return None
    render = getattr(found, "render", None)
    return render if callable(render) else None


def _show_report(run: Run, document: dict[str, Any], output: ShowFormat) -> None:
    """The stored plan or drift document, rendered again: json as stored, text with the command's renderer,
    markdown and html with the report renderers when this version has them."""
    from reconciler.cli.consoles import out

    if output is ShowFormat.json:
        from reconciler.reports import json_document

        typer.echo(json_document.dumps(document))
        return
    if run.kind == "drill":
        _show_drill(run, document, output)
        return
    try:
        if run.kind == "plan":
            from reconciler.reports import plan_json

            plan, _ = plan_json.from_dict(document)
            report: Any = plan
        else:
            from reconciler.reports import drift_json

            report, _ = drift_json.from_dict(document)
    except ValueError as exc:  # PlanFormatError, DriftFormatError: a report stored by another version
        typer.echo(f"error: run {run.id}: the stored {run.kind} report cannot be read: {exc}", err=True)
        raise typer.Exit(1) from exc
    if output is ShowFormat.text:
        if run.kind == "plan":
            from reconciler.reports import plan_text

            plan_text.render(out, report)
        else:
            from reconciler.reports import drift_text

            drift_text.render(out, report)
        return
    renderer = _optional_renderer(f"{run.kind}_{output.value}")
    if renderer is None:
        typer.echo(
            f"error: the {output.value} format is not available yet for {run.kind} reports; use text or json",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(renderer(report), nl=False)


def _show_drill(run: Run, document: dict[str, Any], output: ShowFormat) -> None:
    """A drill run's stored report, rendered again as the drill command renders it."""
    from reconciler.cli import drill_cmds
    from reconciler.reports import drill_json

    try:
        report, _ = drill_json.from_dict(document)
    except drill_json.DrillFormatError as exc:
        typer.echo(f"error: run {run.id}: the stored drill report cannot be read: {exc}", err=True)
        raise typer.Exit(1) from exc
    if output is ShowFormat.text:
        from reconciler.cli.consoles import out
        from reconciler.reports import drill_text

        drill_text.render(out, report)
        return
    typer.echo(drill_cmds.rendered(report, drill_cmds.Format(output.value)), nl=False)
