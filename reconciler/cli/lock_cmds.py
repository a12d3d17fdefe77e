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


def _state(lock: Lock) -> str:
    """The holder as far as this host can tell: running here, gone from here, or on another host."""
    from reconciler.store import liveness

    state = lock.holder_state()
    if state is liveness.Holder.UNKNOWN:
        return "lease ended" if lock.lease_ended() else "other host"
    return "running" if state is liveness.Holder.ALIVE else "gone"


def _table(locks: list[Lock]) -> str:
    """Aligned plain columns (no box: scopes and times stay whole on an 80-column terminal)."""
    header = ("scope", "holder", "pid", "host", "since", "lease until", "holder is", "command")
    rows = [
        header,
        *(
            (k.scope, k.holder, str(k.pid), k.host, k.acquired_at, k.expires_at or "-", _state(k), k.command)
            for k in locks
        ),
    ]
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


def _refusal(lock: Lock, *, force: bool) -> str:
    """Why ``lock`` may not be released (empty: it may). A live holder on this host never loses its lock (an
    apply alongside would repeat its reboots); one on another host keeps it until its lease ends, unless
    ``force``."""
    from reconciler.store import liveness

    who = f"{lock.holder} pid {lock.pid} ({lock.command or 'no command'}) since {lock.acquired_at}"
    state = lock.holder_state()
    if state is liveness.Holder.ALIVE:
        return (
            f"{lock.scope} is held by a running process on this host: {who}. Stop it first (SIGTERM stops an "
            "apply cleanly and releases its locks)"
        )
    if state is liveness.Holder.UNKNOWN and not lock.lease_ended() and not force:
        lease = f", lease until {lock.expires_at}" if lock.expires_at else ", no lease"
        return (
            f"{lock.scope} is held by {who} on {lock.host}{lease}: from here nobody can tell whether it still "
            "runs. Wait for the lease to end, or, once sure it is gone, give --force"
        )
    return ""


def force_unlock(
    scopes: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="SCOPE", help="Scopes to unlock, e.g. tenant/acmecorp site/contoso-west.", show_default=False
        ),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Release every lock.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Release without asking.")] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Also release a lock held on another host whose lease has not ended (it must be gone)."
        ),
    ] = False,
) -> None:
    """Release locks left behind by an apply that is gone (killed, crashed, machine lost). A lock whose process
    still runs on this host is never released; one held on another host only once its lease ended, or with
    --force."""
    from reconciler.store import locks as store_locks

    out, err = _consoles()
    if not scopes and not all_:
        err.print("[red]error:[/red] name the scopes to unlock (e.g. tenant/acmecorp), or give --all.")
        raise typer.Exit(USAGE_EXIT)
    if scopes and all_:
        err.print("[red]error:[/red] give scopes or --all, not both.")
        raise typer.Exit(USAGE_EXIT)
    wanted = None if all_ else sorted(set(scopes or []))
    found = [lock for lock in store_locks.list_locks() if wanted is None or lock.scope in wanted]
    for scope in sorted(set(wanted or []) - {lock.scope for lock in found}):
        err.print(f"{scope} is not locked.", highlight=False, markup=False)
    refused = [(lock, why) for lock in found if (why := _refusal(lock, force=force))]
    for _lock, why in refused:
        err.print(f"refused: {why}.", highlight=False, markup=False)
    held = [lock for lock in found if lock not in {lock for lock, _why in refused}]
    if not held:
        if refused:
            raise typer.Exit(1)
        out.print("Nothing to unlock.")
        return
    out.print("Releasing these locks (their holders are gone, or their leases ended):")
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
    if refused:
        raise typer.Exit(1)
