"""Scope locks: the store API, the lock commands, and two real ``apply`` processes racing on one estate.

Every test runs in ``tmp_path`` with ``RECONCILER_DATABASE_URL`` and ``RECONCILER_ESTATE`` pointing there:
the repository's ``.reconciler/`` is never touched.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli.app import app
from reconciler.providers.embedded import seed
from reconciler.providers.embedded.store import EstateStore
from reconciler.store import db, locks
from reconciler.store.db import Store, open_store
from reconciler.store.locks import LockHeld, acquire, force_unlock, list_locks
from tests.helpers import EMBEDDED_ENV, SPECS, isolate
from tests.helpers import out as _out
from tests.helpers import run as _run

DONE_STEP = re.compile(r"^✓ (create|update|replace|delete) ", re.MULTILINE)
HELD = "another apply holds"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in tmp_path; the lock database and the estate live there too."""
    isolate(tmp_path, monkeypatch, unset=EMBEDDED_ENV, database="locks.db", estate="estate.db")


# --- the store ---------------------------------------------------------------------------------------


def test_open_store_uses_the_env_url_and_defaults_under_dot_reconciler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_store(None) as opened:
        assert opened.url == f"sqlite:///{tmp_path / 'locks.db'}"
        with opened.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            # A transaction waits this long quietly for another's write lock, then says so and waits on.
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.SQLITE_QUIET_WAIT_MS
    assert (tmp_path / "locks.db").is_file()
    monkeypatch.delenv(db.ENV_DATABASE_URL)
    assert db.database_url() == "sqlite:///.reconciler/state.db"
    with open_store(None) as opened:  # the working directory is tmp_path: the folder is created there
        assert list_locks(store=opened) == []
    assert (tmp_path / ".reconciler" / "state.db").is_file()
    with open_store(f"sqlite:///{tmp_path / 'deep' / 'er' / 'x.db'}") as opened:
        assert list_locks(store=opened) == []


def test_acquire_and_release(store: Store) -> None:
    held = acquire(["tenant/acmecorp", "site/contoso-west"], command="reconciler apply", store=store)
    assert held.scopes == ("site/contoso-west", "tenant/acmecorp")  # sorted
    rows = list_locks(store=store)
    assert [r.scope for r in rows] == ["site/contoso-west", "tenant/acmecorp"]
    for row in rows:
        assert row.holder == locks.default_holder()
        assert re.fullmatch(r".+@.+", row.holder)
        assert row.pid == os.getpid()
        assert row.command == "reconciler apply"
        since = datetime.datetime.fromisoformat(row.acquired_at)
        assert since.utcoffset() == datetime.timedelta(0)
    held.release()
    assert list_locks(store=store) == []
    held.release()  # idempotent
    with acquire(["tenant/acmecorp"], store=store) as again:
        assert [r.scope for r in list_locks(store=store)] == ["tenant/acmecorp"]
    assert again.released
    assert list_locks(store=store) == []


def test_no_scopes_is_a_no_op(store: Store) -> None:
    with acquire([], store=store) as held:
        assert held.scopes == ()
    assert list_locks(store=store) == []


def test_acquire_without_a_store_opens_the_default_and_closes_it_on_release(store: Store) -> None:
    held = acquire(["tenant/acmecorp"], command="test")
    assert [r.scope for r in list_locks(store=store)] == ["tenant/acmecorp"]
    held.release()
    assert list_locks() == []


def test_a_second_acquire_fails_naming_the_holder(store: Store) -> None:
    with acquire(["tenant/acmecorp"], holder="alice@ops1", command="reconciler apply", store=store):
        with pytest.raises(LockHeld) as caught:
            acquire(["tenant/acmecorp"], holder="bob@ops2", store=store)
        exc = caught.value
        assert (exc.scope, exc.holder, exc.pid, exc.command) == (
            "tenant/acmecorp",
            "alice@ops1",
            os.getpid(),
            "reconciler apply",
        )
        assert exc.acquired_at == list_locks(store=store)[0].acquired_at
        assert "tenant/acmecorp is locked by alice@ops1 pid" in str(exc)
        assert "(reconciler apply)" in str(exc)


def test_all_or_nothing_across_scopes(store: Store) -> None:
    other = acquire(["tenant/fabrikam"], holder="alice@ops1", store=store)
    with pytest.raises(LockHeld) as caught:
        acquire(["site/contoso-west", "tenant/acmecorp", "tenant/fabrikam"], holder="bob@ops2", store=store)
    assert caught.value.scope == "tenant/fabrikam"
    # Nothing of the failed request stays behind: the free scopes were not taken either.
    assert [(r.scope, r.holder) for r in list_locks(store=store)] == [("tenant/fabrikam", "alice@ops1")]
    assert acquire(["site/contoso-west", "tenant/acmecorp"], store=store).scopes  # still free
    other.release()


def test_waiting_succeeds_when_the_holder_releases_meanwhile(store: Store) -> None:
    first = acquire(["tenant/acmecorp"], holder="alice@ops1", store=store)
    timer = threading.Timer(0.5, first.release)
    started = time.monotonic()
    timer.start()
    try:
        second = acquire(["tenant/acmecorp", "site/contoso-west"], holder="bob@ops2", timeout_s=20, poll_s=0.05)
    finally:
        timer.join()
    waited = time.monotonic() - started
    assert 0.4 <= waited < 10
    assert {r.holder for r in list_locks(store=store)} == {"bob@ops2"}
    second.release()


def test_waiting_fails_after_the_timeout(store: Store) -> None:
    with acquire(["tenant/acmecorp"], holder="alice@ops1", store=store):
        started = time.monotonic()
        with pytest.raises(LockHeld, match="alice@ops1"):
            acquire(["tenant/acmecorp"], holder="bob@ops2", timeout_s=0.6, poll_s=0.05, store=store)
        waited = time.monotonic() - started
        assert 0.55 <= waited < 5


def test_force_unlock(store: Store) -> None:
    acquire(["site/contoso-west", "tenant/acmecorp"], holder="alice@ops1", store=store)
    acquire(["tenant/fabrikam"], holder="bob@ops2", store=store)
    released = force_unlock(["tenant/acmecorp", "tenant/nobody"], store=store)
    assert [(r.scope, r.holder) for r in released] == [("tenant/acmecorp", "alice@ops1")]
    assert [r.scope for r in list_locks(store=store)] == ["site/contoso-west", "tenant/fabrikam"]
    assert [r.scope for r in force_unlock(None, store=store)] == ["site/contoso-west", "tenant/fabrikam"]
    assert list_locks(store=store) == []
    assert force_unlock(None, store=store) == []


def test_force_unlock_by_token_spares_a_lock_taken_since(store: Store) -> None:
    stale = acquire(["tenant/acmecorp"], holder="alice@ops1", store=store)
    shown = list_locks(store=store)
    force_unlock(None, store=store)
    fresh = acquire(["tenant/acmecorp"], holder="bob@ops2", store=store)
    # What an operator confirmed was alice's lock: bob's stays.
    assert force_unlock(["tenant/acmecorp"], tokens={r.token for r in shown}, store=store) == []
    # And alice's run, finishing late, does not free bob's lock either.
    stale.release()
    assert [(r.scope, r.holder) for r in list_locks(store=store)] == [("tenant/acmecorp", "bob@ops2")]
    fresh.release()
    assert list_locks(store=store) == []


def test_two_stores_on_one_database_exclude_each_other(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with open_store(url) as one, open_store(url) as two:
        held = acquire(["site/contoso-west"], store=one)
        with pytest.raises(LockHeld):
            acquire(["site/contoso-west"], store=two)
        held.release()
        acquire(["site/contoso-west"], store=two).release()


# --- the commands --------------------------------------------------------------------------------------


def test_locks_command_lists_holder_pid_host_since_command(store: Store) -> None:
    result = _run("locks")
    assert result.exit_code == 0
    assert "No locks held." in _out(result)
    acquire(["tenant/acmecorp"], holder="alice@ops1", command="reconciler apply", store=store)
    result = _run("locks")
    assert result.exit_code == 0, _out(result)
    text = _out(result)
    lock = list_locks(store=store)[0]
    assert re.search(r"scope\s+holder\s+pid\s+host\s+since\s+lease until\s+holder is\s+command", text), text
    row = rf"tenant/acmecorp\s+alice@ops1\s+{os.getpid()}\s+{re.escape(lock.host)}\s+"
    lease = rf"\s+{re.escape(lock.expires_at)}\s+running\s+"
    assert re.search(row + re.escape(lock.acquired_at) + lease + r"reconciler apply", text), text


def test_force_unlock_needs_scopes_or_all() -> None:
    result = _run("force-unlock")
    assert result.exit_code != 0
    assert "name the scopes to unlock" in _out(result)


def _gone(store: Store) -> None:
    """Every lock now looks held by a process of this host that is gone: its pid is this test's, its start
    time another (the pid was reused)."""
    with store.engine.begin() as conn:
        conn.execute(locks.locks_table.update().values(process_started="another-boot:1"))


def test_force_unlock_refuses_without_yes_when_stdin_is_not_a_terminal(store: Store) -> None:
    acquire(["tenant/acmecorp"], holder="alice@ops1", store=store)
    _gone(store)
    result = _run("force-unlock", "tenant/acmecorp")
    assert result.exit_code == 1
    assert "Refusing to unlock without --yes" in _out(result)
    assert [r.scope for r in list_locks(store=store)] == ["tenant/acmecorp"]


def test_force_unlock_scopes_and_all(store: Store) -> None:
    acquire(["site/contoso-west", "tenant/acmecorp"], holder="alice@ops1", store=store)
    acquire(["tenant/fabrikam"], holder="bob@ops2", store=store)
    _gone(store)
    result = _run("force-unlock", "tenant/fabrikam", "tenant/nobody", "--yes")
    assert result.exit_code == 0, _out(result)
    assert "released tenant/fabrikam (bob@ops2" in _out(result)
    assert "tenant/nobody is not locked" in _out(result)
    assert [r.scope for r in list_locks(store=store)] == ["site/contoso-west", "tenant/acmecorp"]
    result = _run("force-unlock", "--all", "--yes")
    assert result.exit_code == 0, _out(result)
    assert "released site/contoso-west" in _out(result)
    assert "released tenant/acmecorp" in _out(result)
    assert list_locks(store=store) == []
    result = _run("force-unlock", "--all", "--yes")
    assert result.exit_code == 0
    assert "Nothing to unlock." in _out(result)


# --- apply takes the locks, plan does not ---------------------------------------------------------------


def _estate_snapshot(path: Path) -> object:
    estate = EstateStore(path)
    try:
        return seed.dump(estate)
    finally:
        estate.close()


def test_apply_refuses_while_another_holds_a_scope_and_reads_nothing(tmp_path: Path, store: Store) -> None:
    estate = tmp_path / "estate.db"
    seed.init_estate(estate)
    before = _estate_snapshot(estate)
    acquire(["tenant/acmecorp"], holder="alice@ops1", command="reconciler apply", store=store)
    result = _run("apply", SPECS, "--yes", "--estate", estate)
    assert result.exit_code == 1
    text = _out(result)
    since = list_locks(store=store)[0].acquired_at
    assert (
        f"another apply holds tenant/acmecorp: alice@ops1 pid {os.getpid()} since {since} (reconciler apply); "
        "wait with --lock-timeout or, if that process is gone, reconciler force-unlock tenant/acmecorp"
    ) in text, text
    assert "Plan:" not in text  # nothing read
    assert _estate_snapshot(estate) == before  # nothing changed
    assert [r.holder for r in list_locks(store=store)] == ["alice@ops1"]  # and the other's lock stays

    # plan takes no lock
    planned = _run("plan", SPECS, "--estate", estate)
    assert planned.exit_code == 0, _out(planned)
    assert "Plan:" in _out(planned)

    result = _run("apply", SPECS, "--yes", "--estate", estate, "--lock-timeout", "0.3")
    assert result.exit_code == 1
    assert "still held after 0.3s" in _out(result)


def test_apply_holds_every_site_and_tenant_it_touches_and_releases_them(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.engine import applier

    seen: list[list[str]] = []
    real = applier.apply_plan

    def spy(*args: object, **kwargs: object) -> object:
        seen.append([r.scope for r in list_locks(store=store)])
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(applier, "apply_plan", spy)
    result = _run("apply", SPECS, "--yes", "--estate", tmp_path / "estate.db")
    assert result.exit_code == 0, _out(result)
    assert seen == [["site/contoso-west", "tenant/acmecorp", "tenant/fabrikam"]]
    assert list_locks(store=store) == []

    seen.clear()
    result = _run("apply", SPECS, "--yes", "--estate", tmp_path / "estate.db", "--target", "tenant/fabrikam")
    assert list_locks(store=store) == []
    assert seen in ([], [["tenant/fabrikam"]])  # the site's own objects are in sync: it is not locked


def test_apply_releases_its_locks_when_it_fails(tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.engine import applier

    def boom(*_args: object, **_kwargs: object) -> object:
        assert list_locks(store=store), "apply must hold its locks while it applies"
        raise RuntimeError("provider exploded")

    monkeypatch.setattr(applier, "apply_plan", boom)
    result = CliRunner().invoke(app, ["apply", str(SPECS), "--yes", "--estate", str(tmp_path / "estate.db")])
    assert isinstance(result.exception, RuntimeError)
    assert list_locks(store=store) == []


# --- two real processes --------------------------------------------------------------------------------


def _race(tmp_path: Path, *extra: str) -> list[subprocess.CompletedProcess[str]]:
    """Start two ``python -m reconciler apply`` on one estate at the same time; wait for both."""
    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs)
    estate = tmp_path / "race-estate.db"
    seed.init_estate(estate)
    env = {k: v for k, v in os.environ.items() if k not in EMBEDDED_ENV}
    env[db.ENV_DATABASE_URL] = f"sqlite:///{tmp_path / 'race-locks.db'}"
    env[seed.ENV_ESTATE_DB] = str(tmp_path / "unused.db")
    env["RECONCILER_EMBEDDED_LATENCY_MS"] = "50"
    env["NO_COLOR"] = "1"
    command = [sys.executable, "-m", "reconciler", "apply", str(specs), "--yes", "--estate", str(estate), *extra]
    procs = [
        subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    done = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
        assert "Traceback" not in stdout + stderr, stdout + stderr
    assert not (tmp_path / ".reconciler" / "state.db").exists()
    assert not (tmp_path / "unused.db").exists()
    return done


def _steps(run: subprocess.CompletedProcess[str]) -> int:
    return len(DONE_STEP.findall(run.stdout))


def test_two_applies_at_once_one_applies_the_other_is_refused(tmp_path: Path) -> None:
    runs = _race(tmp_path)
    winners = [r for r in runs if _steps(r) > 0]
    assert len(winners) == 1, [r.stdout + r.stderr for r in runs]
    (winner,) = winners
    (loser,) = [r for r in runs if r is not winner]
    assert winner.returncode == 0, winner.stdout + winner.stderr
    if loser.returncode == 1:  # it asked while the winner held the locks
        assert HELD in loser.stderr, loser.stdout + loser.stderr
        assert "wait with --lock-timeout or, if that process is gone, reconciler force-unlock" in loser.stderr
        assert "Plan:" not in loser.stdout  # nothing read
    else:  # it started only after the winner had finished: nothing left to do
        assert loser.returncode == 0, loser.stdout + loser.stderr
        assert _steps(loser) == 0
    with open_store(f"sqlite:///{tmp_path / 'race-locks.db'}") as opened:
        assert list_locks(store=opened) == []


def test_two_applies_with_a_lock_timeout_run_one_after_the_other(tmp_path: Path) -> None:
    runs = _race(tmp_path, "--lock-timeout", "240")
    assert [r.returncode for r in runs] == [0, 0], [r.stdout + r.stderr for r in runs]
    assert sorted(_steps(r) > 0 for r in runs) == [False, True], [r.stdout for r in runs]
    assert all(HELD not in r.stderr for r in runs)
