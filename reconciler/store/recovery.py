"""What the next command finds when it opens the store: the leftovers of runs that died.

A killed apply (SIGKILL, a lost machine) or one whose store went away before it could finish its records
leaves its locks and its ``runs`` row (no result: "running") behind. The first time a process opens a store,
:func:`recover` releases the stale locks (``store.locks.stale``: lease ended, or holder on this host gone)
and marks as ``interrupted`` every apply whose holder is gone: on this host when its process is (the pid and
its start time), on another when it holds no lock any more (its leases ran out). Its counts come from the
steps it recorded, so ``reconciler show`` tells what is known.

It never fails a command: a store that cannot be cleaned up now is cleaned up by a later one."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import func, select, update

from reconciler.store import history, liveness, locks
from reconciler.store.db import Store, StoreError

_LOG = logging.getLogger("reconciler.store")
_recovered: set[str] = set()  # store URLs this process has cleaned up already


@dataclass
class Recovered:
    locks: list[tuple[locks.Lock, str]] = field(default_factory=list)  # released, with why
    runs: list[str] = field(default_factory=list)  # apply runs marked interrupted


def recover_once(store: Store) -> Recovered | None:
    """:func:`recover`, the first time this process opens the store at ``store.url``; None afterwards, or when
    the store could not be cleaned up now."""
    if store.url in _recovered:
        return None
    _recovered.add(store.url)
    try:
        return recover(store)
    except StoreError as exc:
        _LOG.debug("recovering leftovers of dead runs failed: %s", exc)
        return None


def _gone(run_id: str, host: str, pid: int | None, started: str | None, held: set[str], hosts: set[str]) -> bool:
    if pid is None:  # a row written before runs recorded their process: gone when its host holds no lock
        return host not in hosts
    state = liveness.holder(host, pid, started or "")
    if state is liveness.Holder.UNKNOWN:
        return run_id not in held  # another host: gone once its leases ran out
    return state is liveness.Holder.GONE


def recover(store: Store) -> Recovered:
    """Release stale locks and mark the dead applies interrupted (see the module docstring)."""
    done = Recovered(locks=locks.reap(store))
    runs, steps = history.runs_table, history.steps_table
    with store.engine.begin() as conn:
        open_runs = conn.execute(
            select(runs.c.id, runs.c.host, runs.c.pid, runs.c.process_started, runs.c.started_at).where(
                runs.c.kind == "apply", runs.c.result.is_(None)
            )
        ).all()
        if not open_runs:
            return done
        remaining = conn.execute(select(locks.locks_table.c.run_id, locks.locks_table.c.host)).all()
        held = {r.run_id for r in remaining if r.run_id}
        hosts = {r.host for r in remaining}
        for run in open_runs:
            if not _gone(run.id, run.host, run.pid, run.process_started, held, hosts):
                continue
            counts: dict[str, int] = dict(
                conn.execute(
                    select(steps.c.result, func.count()).where(steps.c.run_id == run.id).group_by(steps.c.result)
                ).all()
            )
            last = conn.execute(select(func.max(steps.c.started_at)).where(steps.c.run_id == run.id)).scalar()
            conn.execute(
                update(runs)
                .where(runs.c.id == run.id, runs.c.result.is_(None))
                .values(result="interrupted", counts=history.encode_json(counts), finished_at=last or run.started_at)
            )
            done.runs.append(run.id)
    for lock, why in done.locks:
        _LOG.warning(
            "released the lock on %s held by %s pid %s (%s): %s", lock.scope, lock.holder, lock.pid, lock.command, why
        )
    for run_id in done.runs:
        _LOG.warning("apply run %s was left running by a process that is gone: marked interrupted", run_id)
    return done
