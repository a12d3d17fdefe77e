"""``reconciler drill``: a DR drill. Test failover of each selected tenant's protected VMs (its recovery plans, then
the VMs no plan holds) into its isolated drill network, checked, and always cleaned up; the RPO and RTO measured
(docs/drills.md). The run is :mod:`reconciler.runs.drill`'s; this command loads the session, calls it, shows its
progress on stderr, renders the report in the chosen format, records it in the history store (``reconciler show
RUN_ID``) and exits 0 when every tenant passed, 2 when a drill failed, 1 when a tenant could not be drilled, 130
when stopped (SIGTERM, Ctrl-C: after the cleanup).

Only typer is imported at module level; the runs layer and the renderers load when the command runs."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler.cli.plan_cmds import Estate

if TYPE_CHECKING:
    from reconciler.engine.drill import DrillReport, TenantDrill
    from reconciler.runs.drill import DrillObserver

INTERRUPTED_EXIT = 130  # as the CLI exits on SIGTERM or Ctrl-C


class Format(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


def exit_code(report: DrillReport) -> int:
    """0 every tenant passed, 2 a drill failed, 1 a tenant could not be drilled, 130 stopped."""
    from reconciler.engine.drill import Verdict

    return {Verdict.PASSED: 0, Verdict.FAILED: 2, Verdict.ERROR: 1, Verdict.INTERRUPTED: INTERRUPTED_EXIT}[
        report.verdict
    ]


def rendered(report: DrillReport, output: Format) -> str:
    """The report as ``output`` (text without colour), from the report alone: what ``show`` renders again too."""
    import io

    from rich.console import Console

    from reconciler.reports import drill_html, drill_json, drill_markdown, drill_text, json_document

    if output is Format.json:
        return json_document.dumps(drill_json.to_dict(report)) + "\n"
    if output is Format.markdown:
        return drill_markdown.render(report)
    if output is Format.html:
        return drill_html.render(report)
    buffer = io.StringIO()
    drill_text.render(Console(file=buffer, soft_wrap=True, no_color=True), report)
    return buffer.getvalue()


def _observer() -> DrillObserver:
    from rich.markup import escape

    from reconciler.cli.consoles import err
    from reconciler.cli.progress import read_progress
    from reconciler.reports.drill_text import COLOURS
    from reconciler.runs.drill import DrillObserver
    from reconciler.runs.session import ReadProgress

    class Shown(DrillObserver):
        def read_progress(self) -> ReadProgress | None:
            return read_progress(True)

        def started(self, tenants: Sequence[str]) -> None:
            err.print(f"[bold]drilling {len(tenants)} tenant{'s' * (len(tenants) != 1)}[/bold]", highlight=False)

        def progress(self, tenant: str, message: str) -> None:
            err.print(f"  [dim]{escape(tenant)}[/dim] {escape(message)}", highlight=False)

        def tenant_done(self, drill: TenantDrill) -> None:
            colour = COLOURS[drill.verdict]
            err.print(f"  [{colour}]{escape(drill.tenant)}: {drill.verdict.value}[/{colour}]", highlight=False)

        def stopping(self) -> None:
            err.print(
                "[yellow]stopping: no new test failover starts; those in flight finish and are cleaned up[/yellow]",
                highlight=False,
            )

    return Shown()


def drill(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="Spec folder or file.")] = Path("specs"),
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            metavar="tenant/NAME|site/NAME",
            help="Only this tenant, or every tenant of this site. Repeatable.",
        ),
    ] = None,
    output: Annotated[
        Format,
        typer.Option(
            "--format", "-f", metavar="[text|json|markdown|html]", help="text, json, markdown or html (docs/drills.md)."
        ),
    ] = Format.text,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", metavar="FILE", help="Write the report to this file.")
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=64, metavar="N", help="Tenants drilled at the same time.")
    ] = 4,
    lock_timeout: Annotated[
        float,
        typer.Option(
            "--lock-timeout", min=0, metavar="SECONDS", help="Wait this long for a run holding a tenant's scope lock."
        ),
    ] = 0,
    estate: Estate = None,
) -> None:
    """DR drill: test failover of the tenants' protected VMs into their isolated drill networks, checked, then
    always cleaned up; reports RPO and RTO. Never a production failover. Exit 0 all passed, 2 a drill failed, 1 a
    tenant could not be drilled, 130 stopped."""
    from reconciler.cli import progress
    from reconciler.cli.consoles import out
    from reconciler.cli.drift_cmds import _write
    from reconciler.cli.run_errors import exits_on_run_errors
    from reconciler.reports import drill_text
    from reconciler.runs import clock, run_history
    from reconciler.runs import drill as run_drill

    with exits_on_run_errors():
        now = clock.from_environ()
        run = run_history.ReportRun("drill", clock=now)
        session = progress.load([path], targets=[], excludes=[], estate=estate)
        try:
            request = run_drill.DrillRequest(
                targets=tuple(target or ()), concurrency=concurrency, lock_timeout_s=lock_timeout
            )
            found = run_drill.drill_run(session, request, observer=_observer(), clock=now, run_id=run.run_id)
        finally:
            session.close()
    report = found.report
    if output is Format.text and out_file is None:
        drill_text.render(out, report)
    elif output is Format.json:
        from reconciler.reports import json_document

        _write(json_document.dumps(found.document) + "\n", out_file)
    else:
        _write(rendered(report, output), out_file)
    run_drill.record(run, found)  # a store that cannot be written now is a warning: the drill is over
    raise typer.Exit(exit_code(report))
