"""How the CLI shows why a run stopped: each :class:`~reconciler.runs.errors.RunError` in its own words on
stderr, then exit 1 (130 for a run a signal or its deadline interrupted before it changed anything).
Commands run their work inside :func:`exits_on_run_errors`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import typer

from reconciler.runs import errors


def _specs_invalid(exc: errors.SpecsInvalid) -> None:
    from reconciler.cli.consoles import err
    from reconciler.reports import diagnostics as render

    render.text(err, exc.diagnostics, files=exc.files, documents=exc.documents)
    err.print("[red]Fix the specs first: nothing was read or changed.[/red]")


def _nothing_selected(_exc: errors.NothingSelected) -> None:
    from reconciler.cli.consoles import err

    err.print("[red]--target/--exclude selected no resource.[/red] Use an address, tenant/NAME, site/NAME or a kind.")


def _estate_invalid(exc: errors.EstateInvalid) -> None:
    from reconciler.cli.consoles import err
    from reconciler.reports import diagnostics as render

    render.text(err, exc.diagnostics, files=1, documents=0)


def _marked(exc: errors.RunError) -> None:
    """``error:`` in red, then the message as it is."""
    from reconciler.cli.consoles import err

    err.print(f"[red]error:[/red] {exc}")


def _plain(exc: errors.RunError) -> None:
    """``error:`` and the message, no markup (what the setting and store checks always printed)."""
    typer.echo(f"error: {exc}", err=True)


def _scope_locked(exc: errors.ScopeLocked) -> None:
    from rich.markup import escape

    from reconciler.cli.consoles import err

    held, scope = exc.held, escape(exc.held.scope)
    waited = f" (still held after {exc.waited_s:g}s)" if exc.waited_s else ""
    lease = f" (its lease ends at {held.expires_at} unless that apply renews it)" if held.expires_at else ""
    err.print(
        f"[red]another apply holds {scope}:[/red] {escape(held.holder)} pid {held.pid} since {held.acquired_at} "
        f"({escape(held.command)}){waited}; wait with --lock-timeout or, if that process is gone, "
        f"reconciler force-unlock {scope}{lease}",
        highlight=False,
    )


def _lock_store_failed(exc: errors.LockStoreFailed) -> None:
    from rich.markup import escape

    from reconciler.cli.consoles import err

    err.print(f"[red]error:[/red] cannot take the apply locks in {escape(exc.url)}: {escape(str(exc.cause))}")


def _drift_store_failed(exc: errors.DriftStoreFailed) -> None:
    from rich.markup import escape

    from reconciler.cli.consoles import err

    err.print(
        f"[red]error:[/red] cannot {exc.what} the history store {escape(exc.url)} "
        f"(RECONCILER_DATABASE_URL): {escape(exc.first_line)}. Drift needs what apply last applied; nothing was "
        "compared.",
        highlight=False,
    )


def _plan_stale(exc: errors.PlanStale) -> None:
    from rich.markup import escape

    from reconciler.cli.consoles import err

    err.print(f"[red]{exc.headline}:[/red] refusing to apply a plan nobody reviewed.")
    for line in exc.changes[:50]:
        err.print(f"  {escape(line)}", highlight=False)
    if len(exc.changes) > 50:
        err.print(f"  ... and {len(exc.changes) - 50} more")
    err.print("Run plan -o again and review the new plan.")


def _interrupted(exc: errors.RunInterrupted) -> None:
    from reconciler.cli.consoles import err

    err.print(f"[yellow]{exc}.[/yellow]", highlight=False)


_RENDER: dict[type[errors.RunError], Callable[[Any], None]] = {
    errors.RunInterrupted: _interrupted,
    errors.SpecsInvalid: _specs_invalid,
    errors.NothingSelected: _nothing_selected,
    errors.EstateInvalid: _estate_invalid,
    errors.BadEnvironment: _marked,
    errors.BadSetting: _plain,
    errors.LiveReadFailed: _marked,
    errors.ScopeLocked: _scope_locked,
    errors.LockStoreFailed: _lock_store_failed,
    errors.AuditUnwritable: _plain,
    errors.HistoryUnusable: _plain,
    errors.DriftStoreFailed: _drift_store_failed,
    errors.SavedPlanUnreadable: _marked,
    errors.PlanStale: _plan_stale,
}


def render(exc: errors.RunError) -> None:
    """Show why the run stopped, on stderr."""
    _RENDER.get(type(exc), _marked)(exc)


@contextlib.contextmanager
def exits_on_run_errors() -> Iterator[None]:
    """Run the block; a :class:`RunError` is rendered and ends the command with exit 1."""
    try:
        yield
    except errors.RunError as exc:
        render(exc)
        signalled = isinstance(exc, errors.RunInterrupted) and exc.signalled
        raise typer.Exit(130 if signalled else 1) from exc
