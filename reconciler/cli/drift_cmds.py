"""``reconciler drift``: refresh only. Read the live state, compare it with the specs and with what apply last
applied (the history store), and classify every resource and live object (docs/drift.md). Takes no lock
and changes nothing; the run and its report are recorded in the history store (``reconciler show RUN``).
The run is :mod:`reconciler.runs.drift`'s; this command loads the session, calls it, renders the report in
the chosen format and exits 2 when anything was found.

Only typer is imported at module level; the runs layer and the renderers load when the command runs."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler.cli.plan_cmds import Estate, Excludes, Shard, Targets, with_shard

if TYPE_CHECKING:
    from reconciler.engine.drift import DriftReport


class Format(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


def _plain_text(report: DriftReport, *, show_in_sync: bool) -> str:
    import io

    from rich.console import Console

    from reconciler.reports import drift_text

    buffer = io.StringIO()
    drift_text.render(Console(file=buffer, soft_wrap=True, no_color=True), report, show_in_sync=show_in_sync)
    return buffer.getvalue()


def _write(text: str, out_file: Path | None) -> None:
    from reconciler.cli.consoles import err
    from reconciler.cli.files import write_atomically

    if out_file is None:
        typer.echo(text, nl=False)
        return
    try:
        write_atomically(out_file, lambda stream: stream.write(text))
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot write {out_file}: {exc.strerror or exc}", highlight=False)
        raise typer.Exit(1) from exc
    err.print(f"[dim]wrote {out_file}[/dim]", highlight=False)


def drift(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="Spec folder or file.")] = Path("specs"),
    output: Annotated[
        Format,
        typer.Option(
            "--format", "-f", metavar="[text|json|markdown|html]", help="text, json, markdown or html (docs/drift.md)."
        ),
    ] = Format.text,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", metavar="FILE", help="Write the report to this file.")
    ] = None,
    target: Targets = None,
    shard: Shard = None,
    exclude: Excludes = None,
    show_in_sync: Annotated[bool, typer.Option("--show-in-sync", help="List in-sync resources too (text).")] = False,
    estate: Estate = None,
) -> None:
    """Report drift: classify every resource as in-sync, drifted, missing, pending or unmanaged. Exit 0 when
    everything is in sync, 2 when anything is found, 1 on error. Reads only: no lock, no change."""
    from reconciler.cli import progress
    from reconciler.cli.consoles import out
    from reconciler.cli.run_errors import exits_on_run_errors
    from reconciler.cli.signals import graceful
    from reconciler.reports import drift_html, drift_markdown, drift_text, json_document
    from reconciler.runs import clock, run_history
    from reconciler.runs import drift as run_drift

    targets, excludes = with_shard(target, shard), exclude or []
    with graceful() as stop, exits_on_run_errors():  # SIGTERM ends the read at once (exit 130)
        now = clock.from_environ()
        run = run_history.ReportRun("drift", clock=now)
        session = progress.load([path], targets=targets, excludes=excludes, estate=estate)
        try:
            found = run_drift.drift(
                session,
                targets=targets,
                excludes=excludes,
                progress=progress.read_progress(output is Format.text),
                trend=output in (Format.markdown, Format.html),
                clock=now,
                stop=stop,
            )
        finally:
            session.close()
    report = found.report
    if output is Format.text and out_file is None:
        drift_text.render(out, report, show_in_sync=show_in_sync)
    else:
        if output is Format.json:
            text = json_document.dumps(found.document) + "\n"
        elif output is Format.markdown:
            text = drift_markdown.render(report, history=found.trend)
        elif output is Format.html:
            text = drift_html.render(report, history=found.trend)
        else:
            text = _plain_text(report, show_in_sync=show_in_sync)
        _write(text, out_file)
    # Recorded with its report; a store that cannot be written now is only a warning: drift changes nothing.
    run_drift.record(run, found)
    if report.has_findings:  # drift or a health finding
        raise typer.Exit(2)
