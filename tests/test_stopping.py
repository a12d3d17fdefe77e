"""Deadlines and signals (issue #13, section 2): a throttled endpoint's Retry-After is capped, every step and
the whole run have a deadline, and SIGTERM or SIGINT stop a run promptly: waits end, nothing new starts,
steps in flight finish or are abandoned, what happened is recorded, the locks are released, and the command
exits with its summary.

Nothing here sleeps for an outcome. The engine tests block an operation on an event the test holds (so a step
cannot finish before its deadline, whatever the machine's load) and record the waits a retry asks for. The
signal tests start real ``python -m reconciler`` processes and wait on what they announce: the embedded
estate's pause (``RECONCILER_EMBEDDED_PAUSE_AT``: the Nth operation writes a file and waits for another) or a
``read.retry`` line on stderr; the only timeouts are bounds on a wait."""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

import pytest

from reconciler.core.addresses import Address
from reconciler.core.changes import Plan
from reconciler.core.errors import TemporaryError
from reconciler.core.resources import Resource
from reconciler.engine import applier, expand, planner, refresh, selection
from reconciler.engine.stop import Stop
from reconciler.providers import routing
from reconciler.providers.embedded import seed
from reconciler.providers.embedded.faults import Faults
from reconciler.providers.embedded.provider import EmbeddedProvider
from reconciler.providers.embedded.store import EstateStore
from reconciler.runs import clock
from reconciler.runs.apply import ApplyRequest, apply_run
from reconciler.runs.session import load
from reconciler.spec.loader import load_paths
from reconciler.store import db as store_db
from reconciler.store import history, locks
from tests.helpers import EMBEDDED_ENV, SPECS, WEEKDAY_NOON, init_estate, isolate

POLICY = Address("asr.replication_policy", "acmecorp", "AcmeCorp-Policy")
BOUND_S = 60.0  # the longest any wait below may take before the test fails (never reached when it passes)
ENVIRONMENT = (
    seed.ENV_ESTATE_DB,
    clock.TEST_NOW_ENV,
    *EMBEDDED_ENV,
    refresh.RETRY_AFTER_MAX_ENV,
    "RECONCILER_STEP_TIMEOUT_S",
    "RECONCILER_RUN_TIMEOUT_S",
    "RECONCILER_STOP_GRACE_S",
    "RECONCILER_EMBEDDED_PAUSE_AT",
    "RECONCILER_EMBEDDED_PAUSE_FILE",
    "RECONCILER_EMBEDDED_RETRY_AFTER_S",
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch, unset=ENVIRONMENT, audit_log=str(tmp_path / "audit.jsonl"))


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    return init_estate(tmp_path / "estate.db")


def _resources() -> list[Resource]:
    loaded = load_paths([SPECS])
    assert loaded.ok
    return selection.select(expand.expand(loaded.specs), targets=["tenant/acmecorp"], excludes=["hyperv.vm_memory"])


@dataclasses.dataclass
class Throttled(Faults):
    """The first operation on ``target`` is throttled with ``asked`` seconds of Retry-After (announced on
    ``throttled``); ``block`` (when given) makes every operation on ``target`` wait for it instead."""

    target: Address = POLICY
    asked: float = 3600.0
    block: threading.Event | None = None
    throttled: threading.Event = dataclasses.field(default_factory=threading.Event)

    def round_trip(self, what: str, address: Address | None = None) -> None:
        super().round_trip(what, address)
        if address != self.target:
            return
        if self.block is not None:
            self.throttled.set()
            self.block.wait(BOUND_S)
            return
        if not self.throttled.is_set():
            self.throttled.set()
            raise TemporaryError(f"{what}: 429 Too Many Requests", retry_after=self.asked)


@pytest.fixture
def throttled(estate: Path) -> Iterator[tuple[EmbeddedProvider, Throttled]]:
    faults = Throttled()
    provider = EmbeddedProvider(EstateStore(estate), faults)
    yield provider, faults
    if faults.block is not None:
        faults.block.set()  # let an abandoned step's thread end
    provider.close()


def _plan(provider: EmbeddedProvider, resources: Sequence[Resource]) -> Plan:
    observed = refresh.read_all(resources, routing.only(provider))
    return planner.make_plan(resources, observed, created_at="2026-12-09T12:00:00+00:00")


def _status(report: applier.ApplyReport) -> dict[Address, tuple[str, str]]:
    return {r.address: (r.status, r.message) for r in report.results}


# --- Retry-After -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "cap"), [(None, 120.0), ("5", 5.0)])
def test_a_servers_retry_after_is_capped(
    throttled: tuple[EmbeddedProvider, Throttled], monkeypatch: pytest.MonkeyPatch, setting: str | None, cap: float
) -> None:
    """Retry-After: 3600 made each of six attempts sleep an hour."""
    if setting is not None:
        monkeypatch.setenv(refresh.RETRY_AFTER_MAX_ENV, setting)
    provider, _faults = throttled
    resources = _resources()
    waits: list[float] = []
    report = applier.apply_plan(
        _plan(provider, resources), applier.resources_by_address(resources), routing.only(provider), sleep=waits.append
    )
    assert report.ok, _status(report)
    assert waits and max(waits) <= cap, waits
    assert max(waits) >= min(cap, 3600.0) - 0.001  # the server's wish, as far as the cap allows


def test_the_read_caps_retry_after_too(estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(refresh.RETRY_AFTER_MAX_ENV, "7")
    faults = Faults(rate=1.0, retry_after_s=3600.0)
    provider = EmbeddedProvider(EstateStore(estate), faults)
    waits: list[float] = []
    try:
        with pytest.raises(TemporaryError):
            refresh.read_all(_resources(), routing.only(provider), sleep=waits.append, attempts=3)
    finally:
        provider.close()
    assert waits and max(waits) <= 7.0, waits


@pytest.mark.parametrize("command", ["plan", "drift", "apply"])
def test_a_bad_retry_after_setting_is_refused_before_the_run(
    estate: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    from tests.helpers import out, run

    monkeypatch.setenv(refresh.RETRY_AFTER_MAX_ENV, "an hour")
    result = run(command, SPECS, "--estate", estate, *(("--yes",) if command == "apply" else ()))
    assert result.exit_code == 1, out(result)
    assert f"{refresh.RETRY_AFTER_MAX_ENV}='an hour'" in out(result)


# --- deadlines -------------------------------------------------------------------------------------------


def test_a_retry_that_would_cross_the_steps_deadline_fails_the_step_at_once(
    throttled: tuple[EmbeddedProvider, Throttled],
) -> None:
    provider, faults = throttled
    faults.asked = 60.0
    resources = _resources()
    waits: list[float] = []
    report = applier.apply_plan(
        _plan(provider, resources),
        applier.resources_by_address(resources),
        routing.only(provider),
        sleep=waits.append,
        step_timeout_s=30.0,
    )
    status, message = _status(report)[POLICY]
    assert status == applier.StepStatus.FAILED
    assert "deadline" in message and "RECONCILER_STEP_TIMEOUT_S" in message, message
    assert 60.0 not in waits  # it did not wait out the Retry-After first


def test_a_step_that_hangs_past_its_deadline_is_abandoned_and_the_rest_goes_on(
    throttled: tuple[EmbeddedProvider, Throttled],
) -> None:
    provider, faults = throttled
    faults.block = threading.Event()  # the policy's operation never answers (until the test ends)
    resources = _resources()
    plan = _plan(provider, resources)
    report = applier.apply_plan(
        plan, applier.resources_by_address(resources), routing.only(provider), step_timeout_s=0.2, stop_grace_s=0.1
    )
    status = _status(report)
    assert status[POLICY][0] == applier.StepStatus.FAILED
    assert "abandoned" in status[POLICY][1] and "may still finish" in status[POLICY][1]
    waiting = {c.address for c in plan.pending if POLICY in c.depends_on}
    assert waiting and all(status[a][0] == applier.StepStatus.SKIPPED for a in waiting)
    independent = [a for a, (s, _) in status.items() if s == applier.StepStatus.DONE]
    assert independent  # everything else went on
    assert not report.stopped  # a step's deadline does not stop the run


def test_the_run_deadline_stops_the_run_records_it_and_releases_the_locks(
    estate: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = threading.Event()
    faults = Throttled(block=block)
    monkeypatch.setattr(Faults, "from_env", classmethod(lambda _cls, _env=None: faults))
    monkeypatch.setenv("RECONCILER_RUN_TIMEOUT_S", "1")
    monkeypatch.setenv("RECONCILER_STOP_GRACE_S", "0")
    session = load([SPECS], targets=["tenant/acmecorp"], excludes=["hyperv.vm_memory"], estate=estate)
    try:
        outcome = apply_run(
            session,
            ApplyRequest(targets=("tenant/acmecorp",), excludes=("hyperv.vm_memory",)),
            clock=clock.FixedClock(clock.parse_time(WEEKDAY_NOON)),
        )
    finally:
        session.close()
        block.set()
    report = outcome.report
    assert report is not None and "deadline" in report.stopped, report
    assert "RECONCILER_RUN_TIMEOUT_S" in report.stopped
    status = _status(report)
    assert status[POLICY][0] == applier.StepStatus.FAILED and "abandoned" in status[POLICY][1]
    assert any(s == applier.StepStatus.SKIPPED and "not started" in m for s, m in status.values())
    assert locks.list_locks() == []
    with store_db.open_store(None) as store:
        run = history.get_run(str(outcome.run_id), store=store)
    assert run is not None and run.result == "interrupted"
    assert sum((run.counts or {}).values()) == len(report.results) == len(run.steps)
    end = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()][-1]
    assert end["event"] == "apply.end" and "deadline" in end["stopped"]


# --- a stop ends every wait --------------------------------------------------------------------------------


def test_a_stop_ends_a_retry_after_wait_at_once(
    throttled: tuple[EmbeddedProvider, Throttled], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Allowed to wait an hour, the step is throttled; then the run is told to stop. It returns at once."""
    monkeypatch.setenv(refresh.RETRY_AFTER_MAX_ENV, "3600")
    provider, faults = throttled
    resources = _resources()
    plan = _plan(provider, resources)
    stop = Stop()
    reports: queue.SimpleQueue[applier.ApplyReport] = queue.SimpleQueue()

    def run() -> None:
        reports.put(
            applier.apply_plan(
                plan, applier.resources_by_address(resources), routing.only(provider), stop=stop, concurrency=1
            )
        )

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    assert faults.throttled.wait(BOUND_S)
    stop.set("SIGTERM", signalled=True)
    report = reports.get(timeout=BOUND_S)
    assert report.stopped == "SIGTERM"
    status = _status(report)
    assert status[POLICY][0] == applier.StepStatus.FAILED and "interrupted" in status[POLICY][1]
    assert len(report.results) == len(plan.pending)  # every change accounted for
    assert any(s == applier.StepStatus.SKIPPED and "not started" in m for s, m in status.values())


# --- signals, end to end -----------------------------------------------------------------------------------


class _Process:
    """``python -m reconciler ...`` with its stdout and stderr read as they come (to wait on what it says)."""

    def __init__(self, args: Sequence[str | Path], *, cwd: Path, env: dict[str, str]) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "reconciler", *(str(a) for a in args)],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr_lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.err: list[str] = []
        self.out: list[str] = []
        assert self.popen.stdout is not None and self.popen.stderr is not None
        self.readers = [
            threading.Thread(target=self._read, args=(self.popen.stderr, self.stderr_lines.put), daemon=True),
            threading.Thread(target=self._read, args=(self.popen.stdout, self.out.append), daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str], keep: Callable[[str], None]) -> None:
        for line in stream:
            keep(line)

    def wait_for_stderr(self, text: str) -> None:
        while True:
            line = self.stderr_lines.get(timeout=BOUND_S)
            self.err.append(line)
            if text in line:
                return

    def finish(self) -> tuple[int, str, str]:
        self.popen.wait(timeout=BOUND_S)
        for reader in self.readers:
            reader.join(BOUND_S)
        while not self.stderr_lines.empty():
            self.err.append(self.stderr_lines.get())
        return self.popen.returncode, "".join(self.out), "".join(self.err)


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT}
    env.update(NO_COLOR="1", PYTHONUNBUFFERED="1", RECONCILER_TEST_NOW=WEEKDAY_NOON, **extra)
    env["RECONCILER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'state.db'}"
    env["RECONCILER_AUDIT_LOG"] = str(tmp_path / "audit.jsonl")
    return env


def _wait_for_file(path: Path, process: _Process) -> None:
    """Until ``path`` exists (the paused operation announced itself); fails if the process ended first, or
    after BOUND_S."""
    bound = time.monotonic() + BOUND_S
    while not path.exists():
        assert process.popen.poll() is None, process.finish()
        assert time.monotonic() < bound, f"{path} never appeared"
        threading.Event().wait(0.01)


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "gate"
    yield path
    path.touch()  # whatever happened, nothing waits for it any more


def test_sigterm_stops_an_apply_records_it_releases_the_locks_and_prints_the_summary(
    tmp_path: Path, estate: Path, gate: Path
) -> None:
    env = _environment(tmp_path, RECONCILER_EMBEDDED_PAUSE_AT="3", RECONCILER_EMBEDDED_PAUSE_FILE=str(gate))
    apply = _Process(["apply", SPECS, "--yes", "--concurrency", "1", "--estate", estate], cwd=tmp_path, env=env)
    _wait_for_file(gate.with_name("gate.paused"), apply)  # the run is applying: its third operation waits
    apply.popen.send_signal(signal.SIGTERM)
    gate.touch()  # the step in flight may finish
    code, stdout, stderr = apply.finish()
    assert code == 130, (stdout, stderr)
    assert "Apply stopped (SIGTERM)" in stdout, stdout
    assert "Traceback" not in stdout + stderr
    done = stdout.count("\n✓ ") + stdout.startswith("✓ ")
    with store_db.open_store(env["RECONCILER_DATABASE_URL"]) as store:
        assert locks.list_locks(store=store) == []
        (run,) = history.list_runs(kind="apply", store=store)
        recorded = history.get_run(run.id, store=store)
    assert recorded is not None and recorded.result == "interrupted"
    assert recorded.counts and recorded.counts.get("done", 0) >= done >= 1, (recorded.counts, stdout)
    assert len(recorded.steps) == sum(recorded.counts.values())
    events = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "apply.end" and events[-1]["stopped"] == "SIGTERM"


def test_two_sigterms_abandon_the_step_in_flight_and_still_clean_up(tmp_path: Path, estate: Path, gate: Path) -> None:
    """The paused operation never answers: the first SIGTERM would wait for it (the grace period), the second
    abandons it. The process still exits, with its summary, its record and no lock."""
    env = _environment(tmp_path, RECONCILER_EMBEDDED_PAUSE_AT="3", RECONCILER_EMBEDDED_PAUSE_FILE=str(gate))
    apply = _Process(["apply", SPECS, "--yes", "--concurrency", "1", "--estate", estate], cwd=tmp_path, env=env)
    _wait_for_file(gate.with_name("gate.paused"), apply)
    apply.popen.send_signal(signal.SIGTERM)
    apply.wait_for_stderr("SIGTERM again to abandon them")  # signals do not queue: one at a time
    apply.popen.send_signal(signal.SIGTERM)
    code, stdout, stderr = apply.finish()
    assert code == 130, (stdout, stderr)
    assert "abandoned" in stdout and "may still finish" in stdout, stdout
    with store_db.open_store(env["RECONCILER_DATABASE_URL"]) as store:
        assert locks.list_locks(store=store) == []
        (run,) = history.list_runs(kind="apply", store=store)
    assert run.result == "interrupted"


@pytest.mark.parametrize("command", ["plan", "drift"])
def test_sigterm_ends_a_throttled_read_at_once(tmp_path: Path, estate: Path, command: str) -> None:
    """Every read is throttled with an hour's Retry-After, and the cap allows it: SIGTERM still ends it."""
    env = _environment(
        tmp_path,
        RECONCILER_EMBEDDED_FAULT_RATE="1",
        RECONCILER_EMBEDDED_RETRY_AFTER_S="3600",
        RECONCILER_RETRY_AFTER_MAX_S="3600",
    )
    reading = _Process([command, SPECS, "--estate", estate], cwd=tmp_path, env=env)
    reading.wait_for_stderr("read.retry")
    reading.popen.send_signal(signal.SIGTERM)
    code, stdout, stderr = reading.finish()
    assert code == 130, (stdout, stderr)
    assert "interrupted (SIGTERM) while reading the live state: nothing was changed" in stderr, stderr
    assert "Traceback" not in stdout + stderr
