"""When the store fails mid-run, or the run dies (issue #13, section 3).

- The history store (PostgreSQL) stops during an apply: the estate work is still reported (the summary, exit
  0), the audit file is complete (``apply.end``), and what could not be recorded or released is a warning.
  Once the store is back, the next command releases the locks of the process that is gone and marks its run
  interrupted with the steps it recorded; the next apply is not refused.
- An apply killed with SIGKILL leaves its run "running" and its locks: the next command that opens the store
  marks it interrupted and frees its locks.

Real processes (``python -m reconciler``), paused at a chosen operation by the embedded estate
(``RECONCILER_EMBEDDED_PAUSE_AT``): the test acts while the run waits there, then lets it go on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.providers.embedded import seed
from reconciler.runs import clock
from tests import pg
from tests.helpers import EMBEDDED_ENV, SPECS, WEEKDAY_NOON, init_estate, isolate, out, run

BOUND_S = 120.0  # the longest a wait below may take before the test fails


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch, unset=(seed.ENV_ESTATE_DB, clock.TEST_NOW_ENV, *EMBEDDED_ENV))


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    return init_estate(tmp_path / "estate.db")


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "gate"
    yield path
    path.touch()  # nothing waits on it any more, whatever happened


@pytest.fixture
def server() -> Iterator[pg.Server]:
    """A PostgreSQL server of this test's own, to stop mid-run (tests/pg.py)."""
    try:
        pg.bin_dir()
    except pg.Unavailable as exc:
        if os.environ.get(pg.ENV_REQUIRE, "").strip() == "1":
            pytest.fail(f"PostgreSQL required ({pg.ENV_REQUIRE}=1) but unavailable: {exc}")
        pytest.skip(f"PostgreSQL leg skipped: {exc}")
    with pg.stoppable() as running:
        yield running


def _env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_EMBEDDED_")}
    env.update(NO_COLOR="1", PYTHONUNBUFFERED="1", RECONCILER_TEST_NOW=WEEKDAY_NOON, RECONCILER_DATABASE_URL=url)
    env["RECONCILER_AUDIT_LOG"] = str(tmp_path / "audit.jsonl")
    env.update(extra)
    return env


def _reconciler(args: list[str | Path], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *(str(a) for a in args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=BOUND_S,
        check=False,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done


def _paused_apply(tmp_path: Path, estate: Path, env: dict[str, str], gate: Path) -> subprocess.Popen[str]:
    """An apply started in a process of its own, once it waits at its third operation (locks held, run
    recorded, steps done before it)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler",
            "apply",
            str(SPECS),
            "--yes",
            "--concurrency",
            "1",
            "--estate",
            str(estate),
        ],
        cwd=tmp_path,
        env={**env, "RECONCILER_EMBEDDED_PAUSE_AT": "3", "RECONCILER_EMBEDDED_PAUSE_FILE": str(gate)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    paused, bound = gate.with_name(gate.name + ".paused"), time.monotonic() + BOUND_S
    while not paused.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < bound, "the apply never reached its third operation"
        threading.Event().wait(0.01)
    return process


def _applies(env: dict[str, str], cwd: Path) -> list[dict[str, object]]:
    listed = _reconciler(["history", "--kind", "apply", "--format", "json"], env, cwd)
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)
    assert isinstance(runs, list)
    return runs


def test_the_store_stopping_mid_apply_loses_no_estate_work_and_the_next_command_cleans_up(
    tmp_path: Path, estate: Path, gate: Path, server: pg.Server
) -> None:
    env = _env(tmp_path, server.url)
    apply = _paused_apply(tmp_path, estate, env, gate)
    server.stop("immediate")  # the history store dies while the apply waits at an operation
    gate.touch()
    stdout, stderr = apply.communicate(timeout=BOUND_S)
    assert "Traceback" not in stdout + stderr, stderr
    assert apply.returncode == 0, (stdout, stderr)  # the estate work is done: the store's trouble is a warning
    assert "Apply complete:" in stdout, stdout
    assert "to the history store failed" in stderr, stderr
    assert "the scope locks could not be released" in stderr, stderr
    events = [json.loads(line)["event"] for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert events[0] == "apply.start" and events[-1] == "apply.end"
    assert events.count("apply.step") == stdout.count("\n✓ ") + stdout.startswith("✓ ") + stdout.count("\n‖ ")

    server.start()  # the store is back: the next command finds what the dead run left
    shown = _reconciler(["locks"], env, tmp_path)
    assert shown.returncode == 0 and "No locks held." in shown.stdout, shown.stdout + shown.stderr
    assert "released the lock" in shown.stderr and "is gone" in shown.stderr, shown.stderr
    (left,) = _applies(env, tmp_path)
    assert left["result"] == "interrupted", left
    steps = json.loads(_reconciler(["show", str(left["id"]), "--format", "json"], env, tmp_path).stdout)["steps"]
    counts: dict[str, int] = {}
    for step in steps:
        counts[step["result"]] = counts.get(step["result"], 0) + 1
    assert left["counts"] == counts  # what is known: the steps it recorded before the store went away
    again = _reconciler(["apply", SPECS, "--yes", "--estate", estate], env, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr  # no orphaned lock refuses it


def test_a_killed_apply_is_marked_interrupted_and_its_locks_freed_by_the_next_command(
    tmp_path: Path, estate: Path, gate: Path
) -> None:
    """SIGKILL: nothing of the run's own can clean up. The next command (here ``history``) does."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    env = _env(tmp_path, url)
    apply = _paused_apply(tmp_path, estate, env, gate)
    apply.send_signal(signal.SIGKILL)
    apply.communicate(timeout=BOUND_S)
    assert apply.returncode == -signal.SIGKILL
    result = run("history", "--kind", "apply", "--format", "json")  # in this process: it opens the store first
    assert result.exit_code == 0, out(result)
    (left,) = json.loads(result.stdout)
    assert left["result"] == "interrupted", left
    assert "marked interrupted" in result.stderr, result.stderr
    assert "No locks held." in out(run("locks"))
    again = _reconciler(["apply", SPECS, "--yes", "--estate", estate], env, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
