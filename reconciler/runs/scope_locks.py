"""The scope locks of one apply run (``store.locks``), taken in two steps.

1. Before reading anything: ``tenant/NAME`` of every tenant whose resources the run may change, and
   ``site/NAME`` of every site whose own resources (logical networks, the vault, host BIOS) the run selected
   for themselves: all of the specs, or a target naming them (:func:`up_front`).
2. After planning: ``site/NAME`` of a site whose own resources the plan changes although only a tenant's
   target brought them along (what the tenant's objects depend on); the run then reads and plans again,
   since the site's objects may have changed before it held the lock. Applies targeting different tenants of
   one site therefore run side by side, and one that changes the site excludes every other that does.

No deadlock: tenant locks are only ever taken first, all or none; site locks are taken all or none too, by a
run that waits for them holding tenant locks no site-only holder needs.

Each lock is a lease renewed while the run lives (``LockSet.keep``); if it cannot be renewed for a whole lease
the run is stopped (its ``Stop``), since another run may take its scopes. Stale locks a dead run left (its
lease ended, or its holder on this host is gone) are taken over and logged (``lock.reclaimed``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING

from reconciler.engine.stop import Stop, Stopped
from reconciler.runs import logs
from reconciler.runs.errors import LockStoreFailed, RunInterrupted, ScopeLocked

if TYPE_CHECKING:
    from reconciler.core.addresses import Address
    from reconciler.core.changes import Plan
    from reconciler.core.resources import Resource
    from reconciler.store.locks import LockSet


def up_front(resources: Iterable[Resource], *, targets: Sequence[str], only: Collection[Address] | None) -> set[str]:
    """The scopes to lock before reading (step 1 of the module docstring): the tenants of ``resources`` (the
    run's selection), and the sites whose own resources it selected for themselves, not only as what a
    targeted tenant needs: every one without ``targets``, those a target names, those a correction corrects."""
    chosen = [r for r in resources if only is None or r.address in only]
    scopes = {f"tenant/{r.tenant}" for r in chosen if r.tenant}
    for r in chosen:
        if not r.tenant and r.site and (only is not None or not targets or any(r.address.matches(t) for t in targets)):
            scopes.add(f"site/{r.site}")
    return scopes


def site_scopes(plan: Plan) -> set[str]:
    """``site/NAME`` of each site whose own objects (not a tenant's) the plan changes."""
    return {f"site/{c.site or c.address.scope}" for c in plan.pending if not c.tenant}


class RunLocks:
    """The locks one run holds; :meth:`take` adds scopes, :meth:`release` frees them all."""

    def __init__(self, *, command: str, run_id: str, timeout_s: float, lease_s: float, stop: Stop) -> None:
        self.command = command
        self.run_id = run_id
        self.timeout_s = timeout_s
        self.lease_s = lease_s
        self.stop = stop
        self.held: list[LockSet] = []

    @property
    def scopes(self) -> set[str]:
        return {scope for held in self.held for scope in held.scopes}

    def take(self, scopes: Iterable[str]) -> None:
        """Lock ``scopes`` not held yet, all or none, waiting up to the run's lock timeout (a stop ends the
        wait). :class:`ScopeLocked`, :class:`RunInterrupted` or :class:`LockStoreFailed` otherwise."""
        from reconciler.store import db, locks

        wanted = sorted(set(scopes) - self.scopes)
        if not wanted and self.held:
            return
        try:
            with self.stop.listening():
                taken = locks.acquire(
                    wanted,
                    command=self.command,
                    timeout_s=self.timeout_s,
                    sleep=self.stop.sleep,
                    lease_s=self.lease_s,
                    run_id=self.run_id,
                )
        except locks.LockHeld as exc:
            raise ScopeLocked(exc, waited_s=self.timeout_s) from exc
        except Stopped as exc:
            raise RunInterrupted(
                exc.reason, during="waiting for the scope locks", signalled=self.stop.signalled
            ) from exc
        except db.StoreError as exc:
            raise LockStoreFailed(db.shown_url(), exc) from exc
        self.held.append(taken)
        taken.keep(lambda why: self.stop.set(f"{why}: stopping before another apply may take them"))
        for lock, why in taken.reclaimed:
            logs.log(
                "lock.reclaimed",
                level="warning",
                scope=lock.scope,
                holder=lock.holder,
                pid=lock.pid,
                host=lock.host,
                command=lock.command,
                why=why,
            )

    def release(self) -> str:
        """Release every lock; what went wrong, if anything (the store failed: they are freed by their lease or
        by the next command that opens the store on this host)."""
        from reconciler.store import db

        problems: list[str] = []
        for held in self.held:
            try:
                held.release()
            except db.StoreError as exc:
                problems.append(f"{', '.join(held.scopes)} ({type(exc).__name__}): {held.fate()}")
        return "the scope locks could not be released: " + "; ".join(problems) if problems else ""
