"""``reconciler plan``, and the options plan, apply, drift and watch share.

Only typer is imported at module level; the runs layer and the renderers load when the command runs."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

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
Shard = Annotated[
    str | None,
    typer.Option(
        "--shard",
        metavar="I/N",
        help="Only the sites and tenants whose name hashes to shard I of N (0 <= I < N): one of N processes "
        "sharing the estate (docs/scaling.md).",
    ),
]


def with_shard(targets: list[str] | None, shard: str | None) -> list[str]:
    """``--target`` selectors plus the ``--shard`` one (``shard/I/N``); a malformed shard exits 1."""
    from reconciler.core.addresses import parse_shard

    if shard is None:
        return list(targets or [])
    selector = f"shard/{shard.strip()}"
    if parse_shard(selector) is None:
        typer.echo(f"error: --shard {shard!r}: expected I/N with 0 <= I < N, e.g. --shard 0/4", err=True)
        raise typer.Exit(1)
    return [*(targets or []), selector]


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
    typer.Option(
        "--estate",
        metavar="FILE",
        help="Embedded estate database (default .reconciler/estate.db or $RECONCILER_ESTATE).",
    ),
]
LockTimeout = Annotated[
    float,
    typer.Option("--lock-timeout", min=0, metavar="SECONDS", help="Wait this long for another apply's scope locks."),
]


class PlanFormat(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def _save(out_file: Path, document: dict[str, Any]) -> None:
    """The plan file, whole or not at all (never through a file planted there); exit 1 when it cannot be
    written."""
    from reconciler.cli.consoles import err
    from reconciler.cli.files import write_atomically
    from reconciler.reports import json_document

    try:
        write_atomically(out_file, lambda stream: json_document.write(document, stream))
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot write {out_file}: {exc.strerror or exc}", highlight=False)
        raise typer.Exit(1) from exc


def plan(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="Spec folder or file.")] = Path("specs"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON (docs/plan-format.md).")] = False,
    output: Annotated[
        PlanFormat,
        typer.Option(
            "--format",
            "-f",
            metavar="[text|json|markdown]",
            help="text, json (as --json), or markdown (a pull-request comment).",
        ),
    ] = PlanFormat.text,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", metavar="PLANFILE", help="Save the plan for apply PLANFILE.")
    ] = None,
    target: Targets = None,
    exclude: Excludes = None,
    shard: Shard = None,
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
    from reconciler.cli import progress
    from reconciler.cli.consoles import err, out
    from reconciler.cli.run_errors import exits_on_run_errors
    from reconciler.cli.signals import graceful
    from reconciler.reports import json_document, plan_text
    from reconciler.runs import clock, run_history
    from reconciler.runs import plan as run_plan

    targets, excludes = with_shard(target, shard), exclude or []
    as_json = as_json or output is PlanFormat.json
    with graceful() as stop, exits_on_run_errors():  # SIGTERM ends the read at once (exit 130)
        now = clock.from_environ()
        run = run_history.ReportRun("plan", clock=now)
        session = progress.load([path], targets=targets, excludes=excludes, estate=estate)
        found = run_plan.plan(
            session,
            targets=targets,
            excludes=excludes,
            prune=prune,
            progress=progress.read_progress(output is PlanFormat.text and not as_json),
            clock=now,
            stop=stop,
        )
    result, document = found.plan, found.document  # shown and saved without a secret value (docs/logging.md)
    if as_json:
        json_document.write(document, sys.stdout)  # line by line: a 1,000-tenant plan is 35 MB of JSON
    elif output is PlanFormat.markdown:
        from reconciler.reports import plan_markdown

        sys.stdout.write(plan_markdown.render(result))
    elif summary:
        plan_text.counts_view(out, result)
    else:
        plan_text.render(out, result, show_unchanged=show_unchanged)
    if out_file is not None:
        _save(out_file, document)
        err.print(f"Saved the plan to {out_file}; apply exactly it with: reconciler apply {out_file}")
    run_plan.record(run, found)  # a store that cannot be written is only a warning: a plan changes nothing
    if result.errors:
        raise typer.Exit(1)
    if detailed_exitcode and result.pending:
        raise typer.Exit(2)
