"""``reconciler drift``: refresh only. Read the live state, compare it with the specs and with what apply last
applied (the history store), and classify every resource and live object (docs/drift.md). Takes no lock
and changes nothing; the run and its report are recorded in the history store (``reconciler show RUN``).

Only typer is imported at module level; the engine, the store and the renderers load when the command runs."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler.cli.plan_cmds import Estate, Excludes, Targets

if TYPE_CHECKING:
    from reconciler.cli.session import Session
    from reconciler.engine.drift import DriftReport
    from reconciler.engine.health import Watch
    from reconciler.reports.drift_common import TrendPoint
    from reconciler.store.db import Store
    from reconciler.store.history import Applied


class Format(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


TREND_RUNS = 20  # the past drift runs the Markdown and HTML trend shows


def _store_failed(session: Session | None, what: str, exc: BaseException) -> typer.Exit:
    """Print why the store is unusable (closing the backends, if still open) and return the exit 1."""
    from rich.markup import escape

    from reconciler.cli.session import err
    from reconciler.store import db

    if session is not None:
        session.backends.close()
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    err.print(
        f"[red]error:[/red] cannot {what} the history store {escape(db.shown_url())} "
        f"(RECONCILER_DATABASE_URL): {escape(first)}. Drift needs what apply last applied; nothing was compared.",
        highlight=False,
    )
    return typer.Exit(1)


def _open_store(session: Session) -> Store:
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from reconciler.store import db

    try:
        return db.open_store(None)
    except (SQLAlchemyError, CommandError, OSError) as exc:
        raise _store_failed(session, "open", exc) from exc


def _last_applied(store: Store, addresses: set[str]) -> dict[str, Applied]:
    from sqlalchemy.exc import SQLAlchemyError

    from reconciler.store import history

    try:
        return history.last_applied(addresses, store=store)
    except SQLAlchemyError as exc:
        raise _store_failed(None, "read", exc) from exc  # the backends are closed already


def _watches(session: Session) -> list[Watch]:
    """The hosts whose CPU ready the selected power profiles watch."""
    from reconciler.engine import health

    return health.watches(session.specs, session.resources)


def _with_host_reads(session: Session, watched: list[Watch]) -> Session:
    """The session reading the watched hosts' ``host.state`` objects too: one more bulk read per site, from
    the backend the routing table gives each host."""
    import dataclasses

    from reconciler.engine import health

    if not watched:
        return session
    return dataclasses.replace(session, resources=[*session.resources, *health.host_reads(watched)])


def _trend(store: Store) -> list[TrendPoint]:
    """The drift counts and CPU ready figures of the last recorded drift runs, oldest first (none when the store
    cannot say; no figures for a run whose report is no longer kept)."""
    import zlib

    from sqlalchemy.exc import SQLAlchemyError

    from reconciler.reports.drift_common import TrendPoint
    from reconciler.store import history

    def cpu_ready(run_id: str) -> dict[str, float]:
        try:
            document = history.get_report(run_id, store=store) or {}
            return {str(x["address"]): float(x["percent"]) for x in document.get("cpuReady", [])}
        except (SQLAlchemyError, ValueError, KeyError, TypeError, zlib.error):
            return {}  # a damaged report: that run shows no figures

    try:
        runs = [r for r in reversed(history.list_runs(TREND_RUNS, kind="drift", store=store)) if r.result is not None]
    except SQLAlchemyError:
        return []  # the trend is decoration: the report stands without it
    return [TrendPoint(r.id, r.started_at, dict(r.counts or {}), cpu_ready(r.id)) for r in runs]


def _plain_text(report: DriftReport, *, show_in_sync: bool) -> str:
    import io

    from rich.console import Console

    from reconciler.reports import drift_text

    buffer = io.StringIO()
    drift_text.render(Console(file=buffer, soft_wrap=True, no_color=True), report, show_in_sync=show_in_sync)
    return buffer.getvalue()


def _write(text: str, out_file: Path | None) -> None:
    from reconciler.cli.session import err

    if out_file is None:
        typer.echo(text, nl=False)
        return
    try:
        out_file.write_text(text, encoding="utf-8")
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot write {out_file}: {exc.strerror or exc}", highlight=False)
        raise typer.Exit(1) from exc
    err.print(f"[dim]wrote {out_file}[/dim]", highlight=False)


def compute(
    session: Session,
    *,
    targets: Sequence[str],
    excludes: Sequence[str],
    progress: bool,
    trend: bool,
) -> tuple[DriftReport, list[TrendPoint] | None]:
    """The drift report of the selected resources, with health findings (``reconciler drift`` and each
    ``watch`` cycle make it the same way), and the trend of past drift runs when asked. The session's
    backends stay open for the caller."""
    import datetime

    from reconciler.cli import logs
    from reconciler.cli.session import read_live
    from reconciler.core.memory import no_cyclic_gc
    from reconciler.engine import drift as engine_drift
    from reconciler.engine import health, planner

    with no_cyclic_gc():  # as plan does: tens of thousands of observed objects and entries, none cyclic
        watched = _watches(session)
        store = _open_store(session)  # before the (long) read: an unusable store fails at once
        planned = planner.Pending(session.resources, unfinished=session.unfinished)  # compared as reads return
        try:
            observed = read_live(_with_host_reads(session, watched), progress=progress, on_batch=planned.feed)
            hosts = {a: seen for a, seen in observed.items() if a.kind == health.HOST_KIND}
            observed = {a: seen for a, seen in observed.items() if a.kind != health.HOST_KIND}
            addresses = {str(r.address) for r in session.resources}
            addresses |= {str(a) for a, seen in observed.items() if seen is not None}
            applied = _last_applied(store, addresses)
            points = _trend(store) if trend else None
        finally:
            store.close()
        report = engine_drift.make_report(
            session.resources,
            observed,
            applied,
            created_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            declared=session.all_resources,  # what a --target leaves out is still declared: never unmanaged
            targets=targets,
            excludes=excludes,
            redact=logs.redact,  # apply stored the desired fields redacted: compare them alike
            digest=planner.spec_digest(session.all_resources),
            health=health.findings(session.resources, observed, watched, hosts),
            planned=planned.changes,
            readings=health.readings(watched, hosts),
        )
        return report, points


def drift(
    path: Annotated[Path, typer.Argument(help="Spec folder or file.")] = Path("specs"),
    output: Annotated[
        Format, typer.Option("--format", "-f", help="text, json, markdown or html (docs/drift.md).")
    ] = Format.text,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Write the report to this file.")] = None,
    target: Targets = None,
    exclude: Excludes = None,
    show_in_sync: Annotated[bool, typer.Option("--show-in-sync", help="List in-sync resources too (text).")] = False,
    estate: Estate = None,
) -> None:
    """Report drift: classify every resource as in-sync, drifted, missing, pending or unmanaged. Exit 0 when
    everything is in sync, 2 when anything is found, 1 on error. Reads only: no lock, no change."""
    from reconciler.cli import logs, run_history
    from reconciler.cli.session import load, out
    from reconciler.engine import drift as engine_drift
    from reconciler.reports import drift_html, drift_json, drift_markdown, drift_text, json_document

    run = run_history.ReportRun("drift")
    targets, excludes = target or [], exclude or []
    session = load([path], targets=targets, excludes=excludes, estate=estate)
    try:
        report, trend = compute(
            session,
            targets=targets,
            excludes=excludes,
            progress=output is Format.text,
            trend=output in (Format.markdown, Format.html),
        )
    finally:
        session.backends.close()
    logs.drift_done(report)
    report = engine_drift.redacted(report, logs.redact)
    document = logs.redact(drift_json.to_dict(report, spec_paths=session.spec_paths))
    if output is Format.text and out_file is None:
        drift_text.render(out, report, show_in_sync=show_in_sync)
    else:
        if output is Format.json:
            text = json_document.dumps(document) + "\n"
        elif output is Format.markdown:
            text = drift_markdown.render(report, history=trend)
        elif output is Format.html:
            text = drift_html.render(report, history=trend)
        else:
            text = _plain_text(report, show_in_sync=show_in_sync)
        _write(text, out_file)
    outcome, counts = run_history.drift_result(report)
    # Recorded with its report; a store that cannot be written now is only a warning: drift changes nothing.
    run.record(document, result=outcome, counts=counts, spec_paths=session.spec_paths, spec_digest=report.spec_digest)
    if report.has_findings:  # drift or a health finding
        raise typer.Exit(2)
