"""``reconciler drift``: refresh only. Read the live state, compare it with the specs and with what apply last
applied (the history store), and classify every resource and live object (docs/drift.md). Takes no lock
and changes nothing.

Only typer is imported at module level; the engine, the store and the renderers load when the command runs."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler.cli.plan_cmds import Estate, Excludes, Targets

if TYPE_CHECKING:
    from reconciler.cli.session import Session
    from reconciler.store.db import Store
    from reconciler.store.history import Applied


class Format(enum.StrEnum):
    text = "text"
    json = "json"


def _store_failed(session: Session | None, what: str, exc: BaseException) -> typer.Exit:
    """Print why the store is unusable (closing the backends, if still open) and return the exit 1."""
    from rich.markup import escape

    from reconciler.cli.session import err
    from reconciler.store import db

    if session is not None:
        session.backends.close()
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    err.print(
        f"[red]error:[/red] cannot {what} the history store {escape(db.database_url())} "
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


def drift(
    path: Annotated[Path, typer.Argument(help="Spec folder or file.")] = Path("specs"),
    output: Annotated[Format, typer.Option("--format", "-f", help="text or json (docs/drift.md).")] = Format.text,
    target: Targets = None,
    exclude: Excludes = None,
    show_in_sync: Annotated[bool, typer.Option("--show-in-sync", help="List in-sync resources too (text).")] = False,
    estate: Estate = None,
) -> None:
    """Report drift: classify every resource as in-sync, drifted, missing, pending or unmanaged. Exit 0 when
    everything is in sync, 2 when anything is found, 1 on error. Reads only: no lock, no change."""
    import datetime

    from reconciler.cli import logs
    from reconciler.cli.session import load, out, read_live
    from reconciler.engine import drift as engine_drift
    from reconciler.engine import planner
    from reconciler.reports import drift_json, drift_text

    targets, excludes = target or [], exclude or []
    session = load([path], targets=targets, excludes=excludes, estate=estate)
    store = _open_store(session)  # before the (long) read: an unusable store fails at once
    try:
        try:
            observed = read_live(session, progress=output is Format.text)
        finally:
            session.backends.close()
        addresses = {str(r.address) for r in session.resources}
        addresses |= {str(a) for a, seen in observed.items() if seen is not None}
        applied = _last_applied(store, addresses)
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
    )
    logs.drift_done(report)
    report = engine_drift.redacted(report, logs.redact)
    if output is Format.json:
        document = logs.redact(drift_json.to_dict(report, spec_paths=session.spec_paths))
        typer.echo(json.dumps(document, indent=2, default=str))
    else:
        drift_text.render(out, report, show_in_sync=show_in_sync)
    if report.findings:
        raise typer.Exit(2)
