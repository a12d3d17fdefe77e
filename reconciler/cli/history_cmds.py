"""``reconciler history`` and ``reconciler show RUN_ID``: past runs from the history store.

Only typer is imported at module level; the store (SQLAlchemy, Alembic) loads when a command runs."""

from __future__ import annotations

import enum
import json
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from reconciler.store.history import Run


class Format(enum.StrEnum):
    text = "text"
    json = "json"


FormatOption = Annotated[Format, typer.Option("--format", "-f", help="text or json.")]


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
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs, newest first.")] = 20,
    output: FormatOption = Format.text,
) -> None:
    """List past runs: when, kind, user, result, step counts, duration."""
    from reconciler.store import history as store_history

    runs = store_history.list_runs(limit)
    if output is Format.json:
        typer.echo(json.dumps([r.to_dict() for r in runs], indent=2))
        return
    if not runs:
        typer.echo("No runs recorded yet.")
        return
    header = ("run", "started (UTC)", "kind", "user", "result", "duration", "steps")
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
    run_id: Annotated[str, typer.Argument(help="A run id, as listed by reconciler history.", show_default=False)],
    output: FormatOption = Format.text,
) -> None:
    """Show one run with its steps."""
    from reconciler.store import history as store_history

    run = store_history.get_run(run_id.strip())
    if run is None:
        typer.echo(f"error: no run {run_id!r} in the history store (see reconciler history)", err=True)
        raise typer.Exit(1)
    if output is Format.json:
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
