"""``reconciler locks`` and ``reconciler force-unlock``: the scope locks that keep applies apart.

Only typer is imported at module level; the store (SQLAlchemy) and rich load when a command runs."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler.cli.group import USAGE_EXIT

if TYPE_CHECKING:
    from rich.console import Console

    from reconciler.store.locks import Lock


def _consoles() -> tuple[Console, Console]:
    from rich.console import Console

    return Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)


def _table(locks: list[Lock]) -> str:
    """Aligned plain columns (no box: scopes and times stay whole on an 80-column terminal)."""
    header = ("scope", "holder", "pid", "host", "since", "command")
    rows = [header, *((k.scope, k.holder, str(k.pid), k.host, k.acquired_at, k.command) for k in locks)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in rows
    )


def locks() -> None:
    """List the scope locks held now (by a running apply, or left behind by one that died)."""
    from reconciler.store import locks as store_locks

    out, _err = _consoles()
    held = store_locks.list_locks()
    if not held:
        out.print("No locks held.")
        return
    out.print(_table(held), markup=False, highlight=False)


def force_unlock(
    scopes: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="SCOPE", help="Scopes to unlock, e.g. tenant/acmecorp site/contoso-west.", show_default=False
        ),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Release every lock.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Release without asking.")] = False,
) -> None:
    """Release locks left behind by an apply that is gone (killed, crashed, machine lost)."""
    from reconciler.store import locks as store_locks

    out, err = _consoles()
    if not scopes and not all_:
        err.print("[red]error:[/red] name the scopes to unlock (e.g. tenant/acmecorp), or give --all.")
        raise typer.Exit(USAGE_EXIT)
    if scopes and all_:
        err.print("[red]error:[/red] give scopes or --all, not both.")
        raise typer.Exit(USAGE_EXIT)
    wanted = None if all_ else sorted(set(scopes or []))
    held = [lock for lock in store_locks.list_locks() if wanted is None or lock.scope in wanted]
    missing = sorted(set(wanted or []) - {lock.scope for lock in held})
    for scope in missing:
        err.print(f"{scope} is not locked.", highlight=False, markup=False)
    if not held:
        out.print("Nothing to unlock.")
        return
    out.print("Releasing these locks (make sure their applies are no longer running):")
    out.print(_table(held), markup=False, highlight=False)
    if not yes:
        if not sys.stdin.isatty():
            err.print("[red]Refusing to unlock without --yes: standard input is not a terminal to confirm on.[/red]")
            raise typer.Exit(1)
        if not typer.confirm("Release them?", default=False):
            err.print("Nothing unlocked.")
            raise typer.Exit(1)
    # Only the locks shown: one taken since by a new apply stays.
    released = store_locks.force_unlock([lock.scope for lock in held], tokens={lock.token for lock in held})
    for lock in released:
        out.print(f"released {lock.scope} ({lock.holder} pid {lock.pid})", highlight=False, markup=False)
    changed = sorted({lock.scope for lock in held} - {lock.scope for lock in released})
    for scope in changed:
        err.print(f"{scope} was released or taken again meanwhile: left alone.", highlight=False, markup=False)
