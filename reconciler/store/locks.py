"""Scope locks: one apply per site or tenant at a time.

A lock is a row in ``locks`` keyed by scope (``site/NAME``, ``tenant/NAME``). :func:`acquire` inserts the
rows for every requested scope in one transaction, so a run holds all its scopes or none (no partial
hold, no deadlock between two runs wanting overlapping sets). When a scope is taken it polls, each attempt
a short transaction of its own (no transaction stays open while waiting), until ``timeout_s`` runs out and
:class:`LockHeld` names who holds it. Each acquisition carries a random token: releasing deletes only the
rows with that token, so a run whose lock was force-unlocked (and taken by another) cannot free the new
holder's lock.

A lock is a lease: it records when it ends (``expires_at``), and its holder renews it while it runs
(:meth:`LockSet.keep`). A lock is free (:func:`stale`) when its lease ended, or when its holder was on this
host and is gone (``store.liveness``: the pid and its start time): a killed apply, or one whose store went
away before it could release, never blocks the next one for longer than a lease. A holder that cannot renew
for a whole lease is told (``on_lost``) so it stops before another run may take its scopes.
"""

from __future__ import annotations

import datetime
import getpass
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from sqlalchemy import Column, Integer, String, Table, delete, insert, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from reconciler.core.errors import ReconcilerError
from reconciler.store import liveness
from reconciler.store.db import Store, StoreError, metadata, open_store

DEFAULT_LEASE_S = 300.0
"""How long a lock lasts without renewal (``RECONCILER_LOCK_LEASE_S``): its holder renews it every third."""

locks_table = Table(
    "locks",
    metadata,
    Column("scope", String(255), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("host", String(255), nullable=False),
    Column("acquired_at", String(40), nullable=False),  # ISO 8601, UTC
    Column("command", String(500), nullable=False, default=""),
    Column("token", String(36), nullable=False),
    Column("process_started", String(64), nullable=True),  # the holder's start time (liveness), "" unknown
    Column("expires_at", String(40), nullable=True),  # ISO 8601, UTC: the lease's end; NULL: no lease (old rows)
    Column("run_id", String(64), nullable=True),  # the apply holding it, if known
)


@dataclass(frozen=True, slots=True)
class Lock:
    """One held lock, as stored."""

    scope: str
    holder: str
    pid: int
    host: str
    acquired_at: str
    command: str
    token: str = field(default="", repr=False)
    process_started: str = field(default="", repr=False)
    expires_at: str = ""
    run_id: str = ""

    @classmethod
    def from_row(cls, row: RowMapping) -> Lock:
        return cls(
            scope=row["scope"],
            holder=row["holder"],
            pid=row["pid"],
            host=row["host"],
            acquired_at=row["acquired_at"],
            command=row["command"],
            token=row["token"],
            process_started=row["process_started"] or "",
            expires_at=row["expires_at"] or "",
            run_id=row["run_id"] or "",
        )

    def holder_state(self) -> liveness.Holder:
        """Whether its holder is still running (certain on this host only)."""
        return liveness.holder(self.host, self.pid, self.process_started)

    def lease_ended(self, now: str | None = None) -> bool:
        return bool(self.expires_at) and self.expires_at <= (now or _now())


def stale(lock: Lock, now: str | None = None) -> str:
    """Why ``lock`` is free although its row is there (empty: it is held): its lease ended, or its holder on
    this host is gone."""
    if lock.lease_ended(now):
        return f"its lease ended at {lock.expires_at}"
    if lock.holder_state() is liveness.Holder.GONE:
        return f"its holder, pid {lock.pid} on this host, is gone"
    return ""


class LockHeld(ReconcilerError):
    """A requested scope is locked by someone else (after waiting, if a timeout was given)."""

    def __init__(
        self,
        scope: str,
        holder: str,
        pid: int,
        host: str,
        acquired_at: str,
        command: str = "",
        expires_at: str = "",
    ) -> None:
        what = f" ({command})" if command else ""
        lease = f", lease until {expires_at}" if expires_at else ""
        super().__init__(f"{scope} is locked by {holder} pid {pid} on {host} since {acquired_at}{what}{lease}")
        self.scope = scope
        self.holder = holder
        self.pid = pid
        self.host = host
        self.acquired_at = acquired_at
        self.command = command
        self.expires_at = expires_at

    @classmethod
    def from_lock(cls, lock: Lock) -> LockHeld:
        return cls(lock.scope, lock.holder, lock.pid, lock.host, lock.acquired_at, lock.command, lock.expires_at)


def default_holder() -> str:
    """``user@host`` for the current process."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError, ImportError):  # no login name and no passwd entry (some containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _now(after_s: float = 0.0) -> str:
    """Now (plus ``after_s`` seconds), as lock rows keep times: ISO 8601 UTC, whole seconds (fixed width)."""
    at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=after_s)
    return at.isoformat(timespec="seconds")


class LockSet:
    """Locks held by this process; ``release()`` (or leaving the ``with`` block) frees them. Idempotent.
    ``reclaimed``: stale locks (:func:`stale`) this acquisition took over, with why."""

    def __init__(
        self,
        store: Store,
        scopes: Sequence[str],
        token: str,
        *,
        owns_store: bool = False,
        lease_s: float = DEFAULT_LEASE_S,
        reclaimed: Sequence[tuple[Lock, str]] = (),
    ) -> None:
        self.store = store
        self.scopes = tuple(scopes)
        self.token = token
        self.lease_s = lease_s
        self.reclaimed = tuple(reclaimed)
        self.expires_at = _now(lease_s)
        self._owns_store = owns_store
        self._renewing: threading.Event | None = None
        self.released = False

    def keep(self, on_lost: Callable[[str], None]) -> None:
        """Renew the lease every third of it, in a daemon thread, until released. ``on_lost(why)`` is called
        once if the locks are gone (someone force-unlocked them) or could not be renewed for a whole lease (the
        store is unreachable): another run may take them now, so the holder should stop."""
        if self._renewing is not None or not self.scopes:
            return
        done = self._renewing = threading.Event()
        threading.Thread(target=self._renew, args=(done, on_lost), name="lock-lease", daemon=True).start()

    def _renew(self, done: threading.Event, on_lost: Callable[[str], None]) -> None:
        renewed = time.monotonic()
        while not done.wait(self.lease_s / 3):
            try:
                expires = _now(self.lease_s)
                with self.store.engine.begin() as conn:
                    kept = conn.execute(
                        update(locks_table).where(locks_table.c.token == self.token).values(expires_at=expires)
                    ).rowcount
            except StoreError as exc:
                if time.monotonic() - renewed < self.lease_s:
                    continue
                on_lost(f"the scope locks could not be renewed for {self.lease_s:g}s ({type(exc).__name__})")
                return
            if kept < len(self.scopes):
                on_lost("the scope locks were released by someone else (force-unlock)")
                return
            renewed, self.expires_at = time.monotonic(), expires

    def release(self) -> None:
        """Delete the rows (:data:`StoreError` when the store cannot be reached: :meth:`fate` says what then
        becomes of them)."""
        if self.released:
            return
        self.released = True
        if self._renewing is not None:
            self._renewing.set()
        try:
            if self.scopes:
                with self.store.engine.begin() as conn:
                    conn.execute(
                        delete(locks_table).where(
                            locks_table.c.scope.in_(self.scopes), locks_table.c.token == self.token
                        )
                    )
        finally:
            if self._owns_store:
                self.store.close()

    def fate(self) -> str:
        """What becomes of these locks when ``release`` failed (the store went away)."""
        return (
            f"they are free once their lease ends at {self.expires_at}, or as soon as the next command opens the "
            "store on this host"
        )

    def __enter__(self) -> LockSet:
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"LockSet({list(self.scopes)!r}, released={self.released})"


def _held(store: Store, scopes: Sequence[str]) -> list[Lock]:
    with store.engine.begin() as conn:
        rows = conn.execute(
            select(locks_table).where(locks_table.c.scope.in_(scopes)).order_by(locks_table.c.scope)
        ).mappings()
        return [Lock.from_row(r) for r in rows]


def _reclaim(conn: Connection, scopes: Sequence[str] | None) -> list[tuple[Lock, str]]:
    """Delete the stale locks (of ``scopes``, or all), in the caller's transaction; which, and why."""
    query = select(locks_table)
    if scopes is not None:
        query = query.where(locks_table.c.scope.in_(scopes))
    now = _now()
    gone = [
        (lock, why) for lock in (Lock.from_row(r) for r in conn.execute(query).mappings()) if (why := stale(lock, now))
    ]
    for lock, _why in gone:
        conn.execute(delete(locks_table).where(locks_table.c.scope == lock.scope, locks_table.c.token == lock.token))
    return gone


def acquire(
    scopes: Iterable[str],
    *,
    holder: str | None = None,
    command: str = "",
    timeout_s: float = 0.0,
    poll_s: float = 0.2,
    store: Store | None = None,
    sleep: Callable[[float], None] = time.sleep,
    lease_s: float = DEFAULT_LEASE_S,
    run_id: str = "",
) -> LockSet:
    """Lock every scope, all or none, waiting up to ``timeout_s`` seconds; raise LockHeld if one stays taken.
    Stale locks of those scopes (:func:`stale`) are taken over (``LockSet.reclaimed`` says which and why).

    Without ``store`` the default store (``$RECONCILER_DATABASE_URL``) is opened, and closed again by
    ``LockSet.release()``. ``sleep`` waits between polls (a run's stop ends it by raising)."""
    wanted = sorted(set(scopes))
    owns_store = store is None
    db = store if store is not None else open_store(None)
    token = str(uuid.uuid4())
    holder = holder or default_holder()
    host, pid, started = liveness.this_process()
    deadline = time.monotonic() + max(timeout_s, 0.0)
    vanished = 0
    reclaimed: list[tuple[Lock, str]] = []
    try:
        while wanted:
            rows = [
                {
                    "scope": scope,
                    "holder": holder,
                    "pid": pid,
                    "host": host,
                    "acquired_at": _now(),
                    "command": command[:500],
                    "token": token,
                    "process_started": started,
                    "expires_at": _now(lease_s),
                    "run_id": run_id or None,
                }
                for scope in wanted
            ]
            try:
                with db.engine.begin() as conn:  # one transaction: a conflict on any row rolls back all
                    freed = _reclaim(conn, wanted)
                    conn.execute(insert(locks_table), rows)
                reclaimed += freed
                break
            except IntegrityError:
                taken = _held(db, wanted)
                if not taken:  # released between our insert and our look: try again at once
                    vanished += 1
                    if vanished > 100:  # not a conflict after all
                        raise
                    continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockHeld.from_lock(taken[0])
            sleep(min(max(poll_s, 0.01), remaining))  # a run's stop ends the wait (it raises)
    except BaseException:
        if owns_store:
            db.close()
        raise
    return LockSet(db, wanted, token, owns_store=owns_store, lease_s=lease_s, reclaimed=reclaimed)


def list_locks(*, store: Store | None = None) -> list[Lock]:
    """Every lock currently held, by scope."""
    db = store if store is not None else open_store(None)
    try:
        with db.engine.begin() as conn:
            rows = conn.execute(select(locks_table).order_by(locks_table.c.scope)).mappings()
            return [Lock.from_row(r) for r in rows]
    finally:
        if store is None:
            db.close()


def force_unlock(
    scopes: Collection[str] | None = None, *, tokens: Collection[str] | None = None, store: Store | None = None
) -> list[Lock]:
    """Release locks whoever holds them: the given scopes, or every lock when ``scopes`` is None.

    With ``tokens``, only locks still carrying one of them go (what an operator was shown and confirmed,
    not a lock someone took since). Returns the locks released."""
    db = store if store is not None else open_store(None)
    try:
        with db.engine.begin() as conn:
            query = select(locks_table).order_by(locks_table.c.scope)
            if scopes is not None:
                query = query.where(locks_table.c.scope.in_(sorted(set(scopes))))
            released = [Lock.from_row(r) for r in conn.execute(query).mappings()]
            if tokens is not None:
                released = [lock for lock in released if lock.token in tokens]
            for lock in released:
                conn.execute(
                    delete(locks_table).where(locks_table.c.scope == lock.scope, locks_table.c.token == lock.token)
                )
            return released
    finally:
        if store is None:
            db.close()


def reap(store: Store) -> list[tuple[Lock, str]]:
    """Delete every stale lock (:func:`stale`: its lease ended, or its holder on this host is gone); which,
    and why. The next command that opens the store calls it (``store.recovery``)."""
    with store.engine.begin() as conn:
        return _reclaim(conn, None)
