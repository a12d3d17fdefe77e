"""Scope locks that outlive their holder, and applies that share a site (issue #13, section 4).

- ``force-unlock`` never releases the lock of a process still running on this host (its pid and start time);
  on another host only once the lease ended, or with ``--force``; it says who holds the lock.
- A lock whose lease ended, or whose holder on this host is gone, is taken over; a holder that cannot keep its
  lease is told (its run then stops).
- Applies targeting different tenants of one site run side by side: the site is locked only when a run
  selected or changes its own objects.
- A writer waiting for SQLite's write lock says what it waits for.

Every test runs in ``tmp_path`` (``RECONCILER_DATABASE_URL`` and ``RECONCILER_ESTATE`` there); the store API
tests run on SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reconciler.core.addresses import Address
from reconciler.providers.embedded import seed
from reconciler.providers.embedded.store import EstateStore
from reconciler.store import locks
from reconciler.store.db import Store, open_store
from reconciler.store.locks import LockHeld, acquire, force_unlock, list_locks
from tests.helpers import EMBEDDED_ENV, SPECS, isolate
from tests.helpers import out as _out
from tests.helpers import run as _run

HELD = "another apply holds"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch, unset=EMBEDDED_ENV, database="locks.db", estate="estate.db")


def _lock_row(store: Store, scope: str, **values: object) -> None:
    """A lock row as another process left it: ``values`` override this process's."""
    row: dict[str, object] = {
        "scope": scope,
        "holder": "carol@ops3",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "acquired_at": "2026-12-09T11:00:00+00:00",
        "command": "reconciler apply",
        "token": f"token-{scope}",
        "process_started": None,
        "expires_at": None,
        "run_id": None,
    }
    row.update(values)
    with store.engine.begin() as conn:
        conn.execute(locks.locks_table.insert(), row)


ENDED = "2001-01-01T00:00:00+00:00"  # a lease long over, whatever the day the test runs
RUNNING = "2999-01-01T00:00:00+00:00"  # a lease still running


def test_force_unlock_never_releases_a_live_apply_on_this_host(store: Store) -> None:
    """A live apply's lock released: a second apply ran alongside and two hosts rebooted twice."""
    acquire(["tenant/acmecorp"], holder="alice@ops1", command="reconciler apply", store=store)
    for extra in ((), ("--force",)):
        result = _run("force-unlock", "tenant/acmecorp", "--yes", *extra)
        assert result.exit_code == 1, _out(result)
        text = _out(result)
        assert "held by a running process on this host" in text, text
        assert f"alice@ops1 pid {os.getpid()} (reconciler apply)" in text, text
        assert [r.scope for r in list_locks(store=store)] == ["tenant/acmecorp"]


def test_force_unlock_on_another_host_waits_for_the_lease_or_force(store: Store) -> None:
    _lock_row(store, "tenant/acmecorp", host="ops9.example", pid=4242, expires_at=RUNNING)
    _lock_row(store, "tenant/fabrikam", host="ops9.example", pid=4243, expires_at=ENDED)
    result = _run("force-unlock", "--all", "--yes")
    assert result.exit_code == 1, _out(result)  # one refused
    text = _out(result)
    assert "tenant/acmecorp is held by carol@ops3 pid 4242 (reconciler apply)" in text, text
    assert "on ops9.example, lease until" in text and "give --force" in text, text
    assert "released tenant/fabrikam" in text  # its lease ended
    assert [r.scope for r in list_locks(store=store)] == ["tenant/acmecorp"]
    forced = _run("force-unlock", "tenant/acmecorp", "--yes", "--force")
    assert forced.exit_code == 0, _out(forced)
    assert list_locks(store=store) == []


def test_a_lock_whose_lease_ended_or_whose_holder_is_gone_is_taken_over(store: Store) -> None:
    _lock_row(store, "tenant/acmecorp", host="ops9.example", pid=4242, expires_at=ENDED)
    _lock_row(store, "tenant/fabrikam", process_started="another-boot:1")  # this host: the pid was reused
    _lock_row(store, "site/contoso-west", host="ops9.example", pid=4244, expires_at=RUNNING)
    with pytest.raises(LockHeld, match="lease until"):  # a live lease on another host holds
        acquire(["site/contoso-west", "tenant/acmecorp"], store=store)
    taken = acquire(["tenant/acmecorp", "tenant/fabrikam"], store=store)
    reasons = {lock.scope: why for lock, why in taken.reclaimed}
    assert reasons["tenant/acmecorp"].startswith("its lease ended at")
    assert reasons["tenant/fabrikam"] == f"its holder, pid {os.getpid()} on this host, is gone"
    assert {r.scope: r.token for r in list_locks(store=store)}["tenant/acmecorp"] == taken.token
    taken.release()


def test_a_holder_learns_when_its_lease_cannot_be_kept(store: Store) -> None:
    lost: list[str] = []
    told = threading.Event()
    held = acquire(["tenant/acmecorp"], store=store, lease_s=0.3)

    def on_lost(why: str) -> None:
        lost.append(why)
        told.set()

    held.keep(on_lost)
    force_unlock(["tenant/acmecorp"], store=store)  # someone took its locks away
    assert told.wait(10), "the holder was never told"
    assert "released by someone else" in lost[0]
    held.release()


def test_applies_for_different_tenants_of_one_site_run_side_by_side(tmp_path: Path) -> None:
    """Each used to lock the site, so they ran one at a time. The site is locked only when its objects change."""
    estate = tmp_path / "estate.db"
    seed.init_estate(estate)
    assert _run("apply", SPECS, "--yes", "--allow-disruption", "--estate", estate).exit_code == 0
    drifted = EstateStore(estate)
    try:
        for tenant, policy in (("acmecorp", "AcmeCorp-Policy"), ("fabrikam", "Fabrikam-Policy")):
            row = drifted.get(Address("asr.replication_policy", tenant, policy))
            assert row is not None
            row.data = {**row.data, "recoveryPointHours": 12}
            drifted.put(row)
    finally:
        drifted.close()
    gate = tmp_path / "gate"
    env = {k: v for k, v in os.environ.items() if k not in EMBEDDED_ENV}
    env.update(NO_COLOR="1", RECONCILER_EMBEDDED_PAUSE_AT="1", RECONCILER_EMBEDDED_PAUSE_FILE=str(gate))
    command = ["apply", str(SPECS), "--yes", "--estate", str(estate), "--target", "tenant/acmecorp"]
    first = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *command], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        bound = time.monotonic() + 60
        while not gate.with_name("gate.paused").exists():
            assert first.poll() is None and time.monotonic() < bound, first.communicate()
            threading.Event().wait(0.01)
        assert [r.scope for r in list_locks()] == ["tenant/acmecorp"]
        second = _run("apply", SPECS, "--yes", "--estate", estate, "--target", "tenant/fabrikam")
        assert second.exit_code == 0, _out(second)
        assert "Fabrikam-Policy" in _out(second) and HELD not in _out(second)
    finally:
        gate.touch()
        stdout, _ = first.communicate(timeout=60)
    assert first.returncode == 0, stdout


def test_a_writer_waiting_for_sqlites_write_lock_says_what_it_waits_for(tmp_path: Path) -> None:
    """Another process held the write lock and apply waited 92 s without a word."""
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    open_store(url).close()
    said = threading.Event()
    records: list[str] = []

    class Heard(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())
            if "waiting for the write lock" in record.getMessage():
                said.set()

    heard = Heard()
    logging.getLogger("reconciler.store").addHandler(heard)
    blocker = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    taken: list[locks.LockSet] = []
    try:
        with open_store(url) as waiting:
            blocker.execute("BEGIN IMMEDIATE")  # another process's write transaction
            worker = threading.Thread(target=lambda: taken.append(acquire(["tenant/acmecorp"], store=waiting)))
            worker.start()
            told = said.wait(20)
            blocker.execute("COMMIT")  # the other process is done: the waiter goes on
            worker.join(30)
            assert told, records
            assert str(tmp_path / "busy.db") in records[-1], records
            assert taken and [r.scope for r in list_locks(store=waiting)] == ["tenant/acmecorp"]
            taken[0].release()
    finally:
        logging.getLogger("reconciler.store").removeHandler(heard)
        blocker.close()
