"""Scope locks: one apply per site or tenant at a time.

A lock is a row in ``locks`` keyed by scope (``site/NAME``, ``tenant/NAME``). :func:`acquire` inserts the
rows for every requested scope in one transaction, so a run holds all its scopes or none (no partial
hold, no deadlock between two runs wanting overlapping sets). When a scope is taken it polls, each attempt
a short transaction of its own (no transaction stays open while waiting), until ``timeout_s`` runs out and
:class:`LockHeld` names who holds it. Each acquisition carries a random token: releasing deletes only the
rows with that token, so a run whose lock was force-unlocked (and taken by another) cannot free the new
holder's lock.
"""

from __future__ import annotations

import datetime
import getpass
import os
import socket
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from sqlalchemy import Column, Integer, String, Table, delete, insert, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from reconciler.core.errors import ReconcilerError
from reconciler.store.db import Store, metadata, open_store

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
        )


class LockHeld(ReconcilerError):
    """A requested scope is locked by someone else (after waiting, if a timeout was given)."""

    def __init__(self, scope: str, holder: str, pid: int, host: str, acquired_at: str, command: str = "") -> None:
        what = f" ({command})" if command else ""
        super().__init__(f"{scope} is locked by {holder} pid {pid} on {host} since {acquired_at}{what}")
        self.scope = scope
        self.holder = holder
        self.pid = pid
        self.host = host
        self.acquired_at = acquired_at
        self.command = command

    @classmethod
    def from_lock(cls, lock: Lock) -> LockHeld:
        return cls(lock.scope, lock.holder, lock.pid, lock.host, lock.acquired_at, lock.command)


def default_holder() -> str:
    """``user@host`` for the current process."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError, ImportError):  # no login name and no passwd entry (some containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


class LockSet:
    """Locks held by this process; ``release()`` (or leaving the ``with`` block) frees them. Idempotent."""

    def __init__(self, store: Store, scopes: Sequence[str], token: str, *, owns_store: bool = False) -> None:
        self.store = store
        self.scopes = tuple(scopes)
        self.token = token
        self._owns_store = owns_store
        self.released = False

    def release(self) -> None:
        if self.released:
            return
        self.released = True
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
        return "the next command that opens the store on this host releases them"

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


def acquire(
    scopes: Iterable[str],
    *,
    holder: str | None = None,
    command: str = "",
    timeout_s: float = 0.0,
    poll_s: float = 0.2,
    store: Store | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> LockSet:
    """Lock every scope, all or none, waiting up to ``timeout_s`` seconds; raise LockHeld if one stays taken.

    Without ``store`` the default store (``$RECONCILER_DATABASE_URL``) is opened, and closed again by
    ``LockSet.release()``."""
    wanted = sorted(set(scopes))
    owns_store = store is None
    db = store if store is not None else open_store(None)
    token = str(uuid.uuid4())
    holder = holder or default_holder()
    host = socket.gethostname()
    deadline = time.monotonic() + max(timeout_s, 0.0)
    vanished = 0
    try:
        while wanted:
            rows = [
                {
                    "scope": scope,
                    "holder": holder,
                    "pid": os.getpid(),
                    "host": host,
                    "acquired_at": _now(),
                    "command": command[:500],
                    "token": token,
                }
                for scope in wanted
            ]
            try:
                with db.engine.begin() as conn:  # one transaction: a conflict on any row rolls back all
                    conn.execute(insert(locks_table), rows)
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
    return LockSet(db, wanted, token, owns_store=owns_store)


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
