"""The ``reconciler`` command. Heavy modules (pydantic models, SDKs) are imported inside commands so
that ``reconciler --help`` stays fast."""

from __future__ import annotations

import enum
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from reconciler import __version__
from reconciler.cli import (
    adopt_cmd,
    apply_cmd,
    drift_cmds,
    drill_cmds,
    estate_cmds,
    fmt_cmds,
    history_cmds,
    import_cmds,
    lock_cmds,
    plan_cmds,
    watch_cmds,
)
from reconciler.cli.group import ReconcilerGroup
from reconciler.runs.logs import LogFormat, LogLevel
from reconciler.runs.logs import configure as configure_logging

app = typer.Typer(
    name="reconciler",
    help="Declarative desired-state reconciler for SCVMM/Hyper-V, Azure Pack, vSphere and Azure Site Recovery.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Click's plain help: typer's rich help imports markdown-it, pygments and attrs to draw its panels,
    # which doubled the time of `reconciler --help` (0.33-0.36 s against 0.16-0.17 s).
    rich_markup_mode=None,
    cls=ReconcilerGroup,  # usage errors exit 64; arguments shown without Python types
)


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"reconciler {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format",
            envvar="RECONCILER_LOG_FORMAT",
            metavar="[console|json]",
            help="Logs on stderr: readable, or JSON lines.",
        ),
    ] = LogFormat.console,
    log_level: Annotated[
        LogLevel,
        typer.Option(
            "--log-level",
            envvar="RECONCILER_LOG_LEVEL",
            metavar="[debug|info|warning|error]",
            help="The least severe event logged.",
        ),
    ] = LogLevel.info,
) -> None:
    """Specs in Git; plan, apply and drift against VMM, Hyper-V, vSphere, BMCs and Azure."""
    configure_logging(log_format, log_level)  # cheap: structlog is imported on the first event


@app.command()
def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(metavar="PATH", help="Spec files or folders (default: specs/).", show_default=False),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", metavar="[text|json]", help="text or json.")
    ] = OutputFormat.text,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
) -> None:
    """Check specs: YAML, schema, references and the domain rules. Exit 1 on any error."""
    from rich.console import Console

    from reconciler.reports import diagnostics as render
    from reconciler.spec.loader import load_paths
    from reconciler.spec.parse_cache import ParseCache

    result = load_paths(paths or [Path("specs")], cache=ParseCache.from_environ())
    documents = len(result.specs)
    files = len(result.specs.files)
    if output is OutputFormat.json:
        typer.echo(render.as_json(result.diagnostics, files=files, documents=documents))
    else:
        render.text(Console(soft_wrap=True), result.diagnostics, files=files, documents=documents)
    failed = bool(result.errors) or (strict and bool(result.warnings))
    raise typer.Exit(1 if failed else 0)


@app.command()
def schema(
    out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Folder to write the schemas to.")] = Path(
        "schemas"
    ),
    check: Annotated[bool, typer.Option("--check", help="Only check the files are current; exit 1 if not.")] = False,
) -> None:
    """Write one JSON Schema per kind plus a combined one (for editors: yaml-language-server)."""
    from reconciler.spec import schema as schemas

    if check:
        stale = schemas.stale_files(out)
        if stale:
            typer.echo(f"out of date in {out}/: {', '.join(stale)}; run 'reconciler schema' (make schemas)", err=True)
            raise typer.Exit(1)
        typer.echo(f"schemas in {out}/ are current")
        return
    for path in schemas.write_all(out):
        typer.echo(f"wrote {path}")


# plan/apply/estate live in their own modules, which import the engine only when a command runs.
app.command("plan")(plan_cmds.plan)
app.command("apply")(apply_cmd.apply)
app.add_typer(estate_cmds.estate_app, name="estate")
app.command("locks")(lock_cmds.locks)
app.command("force-unlock")(lock_cmds.force_unlock)
app.command("history")(history_cmds.history)
app.command("show")(history_cmds.show)
app.command("drift")(drift_cmds.drift)
app.command("watch")(watch_cmds.watch)
app.command("drill")(drill_cmds.drill)
app.command("adopt")(adopt_cmd.adopt)
app.command("fmt")(fmt_cmds.fmt)
app.command("import")(import_cmds.import_)


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM (systemd, Kubernetes, CI timeouts) stops like Ctrl-C: steps in flight finish, locks are
    released, and the summary says what was done."""
    raise KeyboardInterrupt


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # never a traceback for a user; RECONCILER_DEBUG=1 shows it
        from reconciler.runs import failures

        if failures.debugging():
            raise
        typer.echo(failures.explain(exc), err=True)
        sys.exit(1)
