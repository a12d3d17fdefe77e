"""The runs layer called directly, as the CLI calls it: ``apply_run`` and a watch cycle with the clock passed
in, the typed errors and the observer hooks, and nothing printed.

Everything runs in ``tmp_path`` (the estate, the history store, the audit file); the shipped specs are read."""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.addresses import Address
from reconciler.core.changes import Plan
from reconciler.engine import applier
from reconciler.providers.embedded import seed
from reconciler.providers.embedded.store import EstateStore, Row
from reconciler.runs import clock, errors
from reconciler.runs.apply import ApplyObserver, ApplyOutcome, ApplyRequest, ApplyStatus, apply_run
from reconciler.runs.metrics import Metrics
from reconciler.runs.session import Session, load
from reconciler.runs.watch import Options, run_cycle, watch
from reconciler.store import history, locks
from reconciler.store.db import Store, open_store
from tests.helpers import EMBEDDED_ENV, SPECS, WEEKDAY_NOON, WEEKEND_3AM, edit_row, init_estate, isolate
from tests.helpers import estate_snapshot as _snapshot
from tests.helpers import run as _run

WEDNESDAY = clock.FixedClock(clock.parse_time(WEEKDAY_NOON))  # the shipped maintenance window is closed
SATURDAY = clock.FixedClock(clock.parse_time(WEEKEND_3AM))  # and open
BIOS = ("bmc.bios",)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(
        tmp_path,
        monkeypatch,
        unset=(seed.ENV_ESTATE_DB, clock.TEST_NOW_ENV, *EMBEDDED_ENV),
        database="state.db",
        audit_log=str(tmp_path / "audit.jsonl"),
    )


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    return init_estate(tmp_path / "estate.db")


@pytest.fixture
def store() -> Iterator[Store]:
    """The history store the runs record in (``$RECONCILER_DATABASE_URL``, in tmp_path)."""
    with open_store(None) as opened:
        yield opened


def _session(estate: Path, targets: tuple[str, ...] = ()) -> Session:
    return load([SPECS], targets=targets, excludes=(), estate=estate)


def _apply(
    estate: Path, request: ApplyRequest, *, at: clock.Clock, observer: ApplyObserver | None = None
) -> ApplyOutcome:
    session = _session(estate, request.targets)
    try:
        return apply_run(session, request, observer=observer, clock=at)
    finally:
        session.close()


def _audit_events(tmp_path: Path) -> list[dict[str, Any]]:
    text = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_the_clock_decides_the_maintenance_window_and_times_what_is_recorded(
    estate: Path, tmp_path: Path, store: Store
) -> None:
    held = _apply(estate, ApplyRequest(targets=BIOS), at=WEDNESDAY)
    assert held.status is ApplyStatus.APPLIED and held.report is not None
    assert {r.status for r in held.report.results} == {applier.StepStatus.HELD}
    assert held.plan.created_at == "2026-12-09T12:00:00+00:00"
    assert held.run_id is not None
    run = history.get_run(held.run_id, store=store)
    assert run is not None and run.result == "held"
    assert run.started_at == run.finished_at == "2026-12-09T12:00:00.000000+00:00"
    assert {e["timestamp"] for e in _audit_events(tmp_path)} == {"2026-12-09T12:00:00Z"}

    done = _apply(estate, ApplyRequest(targets=BIOS), at=SATURDAY)  # inside the window: no leave needed
    assert done.report is not None
    assert {r.status for r in done.report.results} == {applier.StepStatus.DONE}
    assert done.run_id is not None
    run = history.get_run(done.run_id, store=store)
    assert run is not None and run.result == "ok" and run.started_at.startswith("2026-12-05T03:00:00")
    applied = history.last_applied([str(r.address) for r in done.report.results], store=store)
    assert {a.applied_at for a in applied.values()} == {"2026-12-05T03:00:00.000000+00:00"}


def test_another_apply_holding_a_scope_stops_the_run_before_any_change(estate: Path, store: Store) -> None:
    before = _snapshot(estate)
    request = ApplyRequest(targets=BIOS, allow_disruption=True)
    with locks.acquire(["site/contoso-west"], command="reconciler apply"), pytest.raises(errors.ScopeLocked) as stopped:
        _apply(estate, request, at=WEDNESDAY)
    assert stopped.value.held.scope == "site/contoso-west"
    assert _snapshot(estate) == before
    assert history.list_runs(store=store) == []


class _Recording(ApplyObserver):
    def __init__(self, *, agree: bool) -> None:
        self.agree = agree
        self.seen: list[str] = []
        self.steps: list[str] = []

    def planned(self, plan: Plan) -> None:
        self.seen.append(f"planned {len(plan.pending)}")

    def confirm(self, plan: Plan) -> bool:
        self.seen.append(f"confirm {len(plan.pending)}")
        return self.agree

    def step_hooks(self) -> applier.Hooks:
        steps = self.steps

        class Steps(applier.Hooks):
            def post_apply(self, result: applier.StepResult) -> None:
                steps.append(str(result.status))

        return Steps()


def test_the_observer_sees_the_plan_then_is_asked_and_a_no_changes_nothing(
    estate: Path, tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(estate)
    declined = _Recording(agree=False)
    outcome = _apply(estate, ApplyRequest(targets=BIOS), observer=declined, at=WEDNESDAY)
    assert outcome.status is ApplyStatus.DECLINED and outcome.report is None
    assert declined.seen == ["planned 3", "confirm 3"] and declined.steps == []
    assert _snapshot(estate) == before
    assert history.list_runs(store=store) == [] and not (tmp_path / "audit.jsonl").exists()

    agreed = _Recording(agree=True)
    outcome = _apply(estate, ApplyRequest(targets=BIOS, allow_disruption=True), observer=agreed, at=WEDNESDAY)
    assert outcome.status is ApplyStatus.APPLIED
    assert agreed.seen == ["planned 3", "confirm 3"] and agreed.steps == ["done"] * 3
    assert capsys.readouterr().out == ""  # a run never prints: the observer does, if it wants

    again = _Recording(agree=True)
    later = clock.FixedClock(WEDNESDAY.at + datetime.timedelta(hours=1))  # the history lists the newest first
    outcome = _apply(estate, ApplyRequest(targets=BIOS), observer=again, at=later)
    assert outcome.status is ApplyStatus.NOTHING_TO_DO and again.seen == ["planned 0"]
    (nothing, _) = history.list_runs(store=store)  # newest first: the run with no steps is recorded too
    assert nothing.result == "ok" and nothing.counts == {}


def test_a_watch_cycle_takes_its_time_from_the_clock(estate: Path, store: Store) -> None:
    assert _run("apply", SPECS, "--yes", "--allow-disruption", "--estate", estate).exit_code == 0
    metrics = Metrics()
    options = Options(path=SPECS, targets=[], excludes=[], estate=estate, once=True)
    cycle = watch(options, stop=threading.Event(), metrics=metrics, clock=WEDNESDAY)
    assert cycle.error == "" and cycle.result == "ok"
    assert cycle.report is not None and cycle.report.created_at == "2026-12-09T12:00:00+00:00"
    noon = WEDNESDAY.now().timestamp()
    assert metrics.registry.get_sample_value("reconciler_last_run_timestamp_seconds") == noon
    assert metrics.registry.get_sample_value("reconciler_last_success_timestamp_seconds") == noon
    (drift, *_) = history.list_runs(kind="drift", store=store)
    assert drift.started_at == "2026-12-09T12:00:00.000000+00:00"


def test_a_disruptive_correction_waits_for_the_maintenance_window(estate: Path) -> None:
    assert _run("apply", SPECS, "--yes", "--allow-disruption", "--estate", estate).exit_code == 0
    hv01 = Address("bmc.bios", "contoso-west", "HV01.contoso.int")

    def power_saving(row: Row) -> None:
        row.data["attributes"] = {**row.data["attributes"], "SysProfile": "PerfPerWattOptimizedDapc"}

    edit_row(estate, hv01, power_saving)
    options = Options(path=SPECS, targets=[], excludes=[], estate=estate, auto_correct=True)

    weekday = run_cycle(options, clock=WEDNESDAY)
    assert weekday.result == "drift" and weekday.correction is not None
    assert weekday.correction.counts == {"held": 1} and weekday.correction.failed == 0
    assert _bios(estate, hv01) == "PerfPerWattOptimizedDapc"

    weekend = run_cycle(options, clock=SATURDAY)  # inside the power profile's window: no leave needed
    assert weekend.correction is not None and weekend.correction.counts == {"done": 1}
    assert _bios(estate, hv01) == "PerfOptimized"
    assert run_cycle(options, clock=SATURDAY).result == "ok"


def _bios(estate: Path, address: Address) -> str:
    store = EstateStore(estate)
    try:
        row = store.get(address)
        assert row is not None
        profile: str = row.data["attributes"]["SysProfile"]
        return profile
    finally:
        store.close()


def test_the_test_clock_variable() -> None:
    pinned = clock.from_environ({clock.TEST_NOW_ENV: "2026-12-09T13:00:00+01:00"})
    assert abs(pinned.now() - WEDNESDAY.now()) < datetime.timedelta(seconds=60)
    assert pinned.now().utcoffset() == datetime.timedelta(0)
    assert clock.parse_time("2026-12-09 12:00") == WEDNESDAY.now()  # no offset: UTC
    assert clock.from_environ({}) is clock.SYSTEM
    with pytest.raises(errors.BadSetting, match=clock.TEST_NOW_ENV):
        clock.from_environ({clock.TEST_NOW_ENV: "soon"})


def test_a_bad_test_clock_is_a_one_line_error(estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock.TEST_NOW_ENV, "soon")
    result = _run("plan", SPECS, "--estate", estate)
    assert result.exit_code == 1
    assert (
        result.stderr.strip()
        == f"error: {clock.TEST_NOW_ENV}='soon': use an ISO 8601 time such as 2026-12-09T12:00:00Z"
    )
