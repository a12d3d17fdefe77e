"""The engine's host procedure (``engine.procedures.host_reboot``) over the embedded estate's primitives:
a BIOS change enters maintenance, stages, resets, confirms and leaves, journaled ahead of every step.

The two ways a black-box test broke the procedure when it lived in the provider are here, each failing on
the old code: a failed poll while waiting for the restart let the host leave maintenance and the rollout
move on; and a host left in maintenance by a killed run, rerun without leave outside the window, stayed
there while apply said "complete" and neither plan nor drift said so. Also: hosts earlier runs left out
count against ``maxUnavailable``."""

from __future__ import annotations

import dataclasses
import datetime
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from reconciler.core.addresses import Address
from reconciler.core.changes import ActionReason, Plan
from reconciler.core.errors import TemporaryError
from reconciler.core.procedures import Outcome, ProcedureRecord, Step
from reconciler.core.resources import Resource
from reconciler.engine import applier, drift, expand, planner, refresh, selection
from reconciler.engine.journal import MemoryJournal
from reconciler.providers import routing
from reconciler.providers.embedded import seed
from reconciler.providers.embedded.faults import Faults
from reconciler.providers.embedded.provider import EmbeddedProvider
from reconciler.providers.embedded.store import EstateStore
from reconciler.spec.loader import load_paths
from tests.helpers import SPECS, copy_specs
from tests.helpers import edit_text as _edit

SITE = "contoso-west"
HOSTS = ("HV01.contoso.int", "HV02.contoso.int", "HV03.contoso.int")
BIOS = tuple(Address("bmc.bios", SITE, h) for h in HOSTS)
HOST = tuple(Address("host.state", SITE, h) for h in HOSTS)
THURSDAY_3AM = datetime.datetime(2025, 1, 2, 3, 0, tzinfo=datetime.UTC)  # outside the shipped window
CLOCK = "2026-12-06T03:12:09+00:00"


@dataclasses.dataclass
class Watch(Faults):
    """Faults that note every round trip and how many hosts were in maintenance at it, and can fail the
    first read of one host's state after its reset (a failed poll)."""

    store: EstateStore | None = None
    calls: list[tuple[str, Address | None]] = dataclasses.field(default_factory=list)
    most_out: int = 0
    fail_poll_of: str = ""
    _reset: set[str] = dataclasses.field(default_factory=set)

    def round_trip(self, what: str, address: Address | None = None) -> None:
        assert self.store is not None
        with self._lock:
            self.calls.append((what, address))
            out = sum(1 for r in self.store.list("host.state") if r.status.get("maintenance"))
            self.most_out = max(self.most_out, out)
            if what == "ComputerSystem.Reset" and address is not None:
                self._reset.add(address.name)
            poll = what == "list host.state" and self.fail_poll_of in self._reset
            if poll:
                self._reset.discard(self.fail_poll_of)
        if poll:
            raise TemporaryError("list host.state: the VMM server did not answer")
        super().round_trip(what, address)

    def operations(self) -> list[tuple[str, Address | None]]:
        return [(w, a) for w, a in self.calls if not w.startswith("list ")]


@pytest.fixture
def estate(tmp_path: Path) -> Iterator[tuple[EmbeddedProvider, Watch]]:
    seed.init_estate(tmp_path / "estate.db")
    store = EstateStore(tmp_path / "estate.db")
    watch = Watch(store=store)
    provider = EmbeddedProvider(store, watch)
    yield provider, watch
    provider.close()


def _bios_resources(specs: Path = SPECS) -> list[Resource]:
    loaded = load_paths([specs])
    assert loaded.ok, [str(d) for d in loaded.diagnostics]
    return selection.select(expand.expand(loaded.specs), targets=["bmc.bios"])


def _plan(provider: EmbeddedProvider, resources: Sequence[Resource], journal: MemoryJournal) -> Plan:
    notes = {r.address: r.note() for r in journal.unfinished()}
    observed = refresh.read_all(resources, routing.only(provider), sleep=lambda _s: None)
    return planner.make_plan(resources, observed, created_at=CLOCK, unfinished=notes)


def _apply(
    provider: EmbeddedProvider,
    resources: Sequence[Resource],
    journal: MemoryJournal,
    *,
    allow_disruption: bool,
    run_id: str = "run2",
) -> applier.ApplyReport:
    return applier.apply_plan(
        _plan(provider, resources, journal),
        applier.resources_by_address(resources),
        routing.only(provider),
        sleep=lambda _s: None,
        allow_disruption=allow_disruption,
        now=THURSDAY_3AM,
        journal=journal,
        run_id=run_id,
    )


def _in_maintenance(provider: EmbeddedProvider) -> list[str]:
    return [r.address.name for r in provider.store.list("host.state") if r.status.get("maintenance")]


def _set(provider: EmbeddedProvider, address: Address, **status: object) -> None:
    row = provider.store.get(address)
    assert row is not None
    row.status = {**row.status, **status}
    provider.store.put(row)


def _left(journal: MemoryJournal, host: int, step: Step, *, ours: bool = True) -> ProcedureRecord:
    """What a run killed at ``step`` of HV0<host+1>'s procedure leaves in the journal."""
    record = ProcedureRecord(
        id=f"killed-{host}",
        run_id="run1",
        procedure="host-reboot",
        address=BIOS[host],
        host=HOST[host],
        group="power/max-performance",
        step=step,
        outcome=Outcome.OPEN,
        ours=ours,
        started_at=CLOCK,
        updated_at=CLOCK,
    )
    journal.write(record)
    return record


def test_each_step_is_journaled_before_it_is_taken_and_the_record_closes(
    estate: tuple[EmbeddedProvider, Watch],
) -> None:
    provider, watch = estate
    journal = MemoryJournal()
    seen: dict[str, Step] = {}
    inner = watch.round_trip

    def look(what: str, address: Address | None = None) -> None:
        if address is not None and address.name == HOSTS[0] and not what.startswith("list "):
            (record,) = journal.unfinished([BIOS[0]])
            seen[what] = record.step
        inner(what, address)

    watch.round_trip = look  # type: ignore[method-assign]
    resources = [r for r in _bios_resources() if r.address == BIOS[0]]
    assert _apply(provider, resources, journal, allow_disruption=True).ok
    assert seen == {
        "Enter maintenance mode": Step.ENTERING,
        "PATCH Bios/Settings": Step.IN_MAINTENANCE,
        "ComputerSystem.Reset": Step.RESTARTING,
        "Exit maintenance mode": Step.LEAVING,
    }
    (record,) = journal.records.values()
    assert record.outcome is Outcome.DONE and record.ours and record.run_id == "run2"
    assert not _in_maintenance(provider)


def test_a_failed_poll_leaves_the_host_in_maintenance_and_stops_the_rollout(
    estate: tuple[EmbeddedProvider, Watch],
) -> None:
    provider, watch = estate
    watch.fail_poll_of = HOSTS[0]
    journal = MemoryJournal()
    resources = _bios_resources()
    # Force HV01 first: the others wait on it only through the rollout's limit of one.
    report = _apply(provider, resources[:1], journal, allow_disruption=True)
    (failed,) = report.results
    assert failed.status == applier.StepStatus.FAILED
    assert "confirming the restart of HV01.contoso.int failed" in failed.message
    assert "stays in maintenance" in failed.message
    assert failed.attempts == 1  # never retried: a retry would read the host as converged and move on
    assert _in_maintenance(provider) == [HOSTS[0]]
    assert "Exit maintenance mode" not in [w for w, _ in watch.operations()]
    (record,) = journal.unfinished()
    assert record.step is Step.RESTARTED and record.ours

    # The whole rollout: HV01 is out (left by the failed run), so no other host may go until it is back;
    # the rerun confirms HV01's restart (no second reset) and leaves maintenance, then rolls the others.
    watch.calls.clear()
    watch.most_out = 0
    report = _apply(provider, resources, journal, allow_disruption=True, run_id="run3")
    assert report.ok, report.results
    assert watch.most_out == 1
    operations = watch.operations()
    assert ("ComputerSystem.Reset", BIOS[0]) not in operations
    assert operations.index(("Exit maintenance mode", HOST[0])) < operations.index(("Enter maintenance mode", HOST[1]))
    assert not _in_maintenance(provider)
    assert not journal.unfinished()


def test_a_failed_poll_in_a_rollout_skips_the_hosts_still_waiting(estate: tuple[EmbeddedProvider, Watch]) -> None:
    provider, watch = estate
    journal = MemoryJournal()
    resources = _bios_resources()
    first: list[str] = []
    lock = threading.Lock()
    inner = watch.round_trip

    def fail_the_first_host(what: str, address: Address | None = None) -> None:
        with lock:
            if what == "ComputerSystem.Reset" and address is not None and not first:
                first.append(address.name)
                watch.fail_poll_of = address.name
        inner(what, address)

    watch.round_trip = fail_the_first_host  # type: ignore[method-assign]
    report = _apply(provider, resources, journal, allow_disruption=True)
    statuses = {r.address.name: r for r in report.results}
    assert statuses[first[0]].status == applier.StepStatus.FAILED
    others = [statuses[h] for h in HOSTS if h != first[0]]
    assert [r.status for r in others] == [applier.StepStatus.SKIPPED] * 2
    assert all(r.message == f"rollout stopped: bmc.bios:{SITE}/{first[0]} failed" for r in others)
    assert _in_maintenance(provider) == first
    touched = {a.name for _, a in watch.operations() if a is not None}
    assert touched == {first[0]}


@pytest.mark.parametrize("step", [Step.ENTERING, Step.IN_MAINTENANCE, Step.STAGED])
def test_a_host_left_in_maintenance_before_its_reset_is_unwound_when_the_change_is_held(
    estate: tuple[EmbeddedProvider, Watch], step: Step
) -> None:
    provider, watch = estate
    journal = MemoryJournal()
    _left(journal, 0, step)
    _set(provider, HOST[0], maintenance=True)
    if step is Step.STAGED:
        _set(provider, BIOS[0], pending={"SysProfile": "PerfOptimized"})
    resources = _bios_resources()

    # Plan and drift say what was left, and by which run.
    plan = _plan(provider, resources, journal)
    change = next(c for c in plan.changes if c.address == BIOS[0])
    assert re.match(
        rf"{re.escape(HOSTS[0])} (in|entering) maintenance since {re.escape(CLOCK)}, by run run1", change.unfinished
    )
    assert change.disruptive
    bios = next(r for r in resources if r.address == BIOS[0])
    entry = drift.classify_one(bios, provider.read_one(bios), None, change=change)
    assert entry.drift_class is drift.DriftClass.PENDING
    assert "maintenance since" in entry.reason

    # No leave, outside the window: the BIOS changes are held, and HV01 leaves maintenance (never held).
    report = _apply(provider, resources, journal, allow_disruption=False)
    results = {r.address: r for r in report.results}
    assert {r.status for r in results.values()} == {applier.StepStatus.HELD}
    assert results[BIOS[0]].message.startswith(f"{HOSTS[0]} left maintenance")
    assert not _in_maintenance(provider)
    assert [w for w, _ in watch.operations()] == ["Exit maintenance mode"]
    assert not journal.unfinished()
    again = next(c for c in _plan(provider, resources, journal).changes if c.address == BIOS[0])
    assert again.disruptive and not again.unfinished


def test_a_host_left_after_its_reset_is_confirmed_and_leaves_maintenance_without_another_reset(
    estate: tuple[EmbeddedProvider, Watch],
) -> None:
    provider, watch = estate
    journal = MemoryJournal()
    _left(journal, 1, Step.RESTARTED)
    _set(provider, HOST[1], maintenance=True)
    bios = next(r for r in _bios_resources() if r.address == BIOS[1])
    row = provider.store.get(BIOS[1])
    assert row is not None
    row.data = {**row.data, "attributes": {**row.data["attributes"], **bios.desired["attributes"]}}
    provider.store.put(row)

    plan = _plan(provider, [bios], journal)
    (change,) = plan.pending
    assert change.action_reason is ActionReason.RESUME
    assert not change.disruptive
    report = _apply(provider, [bios], journal, allow_disruption=False)
    assert [r.status for r in report.results] == [applier.StepStatus.DONE]
    assert [w for w, _ in watch.operations()] == ["Exit maintenance mode"]
    assert not _in_maintenance(provider)
    assert not journal.unfinished()
    assert not _plan(provider, [bios], journal).pending


def test_a_reset_whose_settings_did_not_take_stages_them_again(estate: tuple[EmbeddedProvider, Watch]) -> None:
    provider, watch = estate
    journal = MemoryJournal()
    _left(journal, 0, Step.RESTARTED)  # the reset happened, but the BMC dropped the staged settings
    _set(provider, HOST[0], maintenance=True)
    resources = [r for r in _bios_resources() if r.address == BIOS[0]]
    assert _apply(provider, resources, journal, allow_disruption=True).ok
    assert [w for w, _ in watch.operations()] == [
        "PATCH Bios/Settings",
        "ComputerSystem.Reset",
        "Exit maintenance mode",
    ]
    assert not _in_maintenance(provider)
    assert not journal.unfinished()


def test_a_host_an_operator_put_in_maintenance_is_never_taken_out(estate: tuple[EmbeddedProvider, Watch]) -> None:
    provider, watch = estate
    journal = MemoryJournal()
    _set(provider, HOST[2], maintenance=True)
    resources = [r for r in _bios_resources() if r.address == BIOS[2]]
    assert _apply(provider, resources, journal, allow_disruption=True).ok
    assert [w for w, _ in watch.operations()] == ["PATCH Bios/Settings", "ComputerSystem.Reset"]
    assert _in_maintenance(provider) == [HOSTS[2]]


@pytest.mark.parametrize("max_unavailable", [1, 2])
def test_hosts_left_out_by_an_earlier_run_count_against_the_limit(
    tmp_path: Path, estate: tuple[EmbeddedProvider, Watch], max_unavailable: int
) -> None:
    provider, watch = estate
    specs = copy_specs(tmp_path)
    _edit(specs / "profiles" / "power.yaml", "maxUnavailable: 1", f"maxUnavailable: {max_unavailable}")
    journal = MemoryJournal()
    # A run killed while HV01 was out for its restart: it is still out (rebooting) when this run starts.
    _left(journal, 0, Step.RESTARTED)
    _set(provider, HOST[0], maintenance=True, responding=False, bootPolls=1)
    _set(provider, BIOS[0], pending={"SysProfile": "PerfOptimized"})
    report = _apply(provider, _bios_resources(specs), journal, allow_disruption=True)
    assert report.ok, report.results
    assert watch.most_out <= max_unavailable  # never more out than the limit, HV01 included
    operations = watch.operations()
    if max_unavailable == 1:  # nothing else goes out before HV01 is back
        assert operations.index(("Exit maintenance mode", HOST[0])) < operations.index(
            ("Enter maintenance mode", HOST[1])
        )
    assert not _in_maintenance(provider)


def test_the_cli_shows_a_host_a_killed_run_left_in_maintenance_and_unwinds_it_without_leave(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a run killed just after HV01 entered maintenance leaves things: the host out, its journal entry
    open in the history store. Plan and drift say so; apply without leave (and no window) holds the BIOS
    changes, takes HV01 out of maintenance, and says so; the journal entry closes."""
    from reconciler.store import db as store_db
    from reconciler.store import journal as store_journal
    from tests.helpers import isolate, out, run

    isolate(tmp_path, monkeypatch, audit_log="-")
    specs = copy_specs(tmp_path)
    _edit(  # no maintenance window: the BIOS changes are held whatever the day and hour
        specs / "profiles" / "power.yaml",
        '    maintenanceWindow: {days: [Sat, Sun], start: "02:00", duration: 4h, timezone: UTC}\n',
        "",
    )
    db = tmp_path / "estate.db"
    seed.init_estate(db)
    store = EstateStore(db)
    row = store.get(HOST[0])
    assert row is not None
    row.status = {**row.status, "maintenance": True}
    store.put(row)
    store.close()
    with store_db.open_store(None) as history:
        store_journal.StoreJournal(history).write(
            ProcedureRecord(
                id="killed",
                run_id="a1b2c3d4e5f6",
                procedure="host-reboot",
                address=BIOS[0],
                host=HOST[0],
                group="power/max-performance",
                step=Step.IN_MAINTENANCE,
                outcome=Outcome.OPEN,
                ours=True,
                started_at=CLOCK,
                updated_at=CLOCK,
            )
        )
    note = f"{HOSTS[0]} in maintenance since {CLOCK}, by run a1b2c3d4e5f6"
    assert note in out(run("plan", specs, "--estate", db))
    assert note in out(run("drift", specs, "--estate", db))

    applied = run("apply", specs, "--yes", "--estate", db)
    text = out(applied)
    assert applied.exit_code == 0, text
    assert re.search(
        rf"‖ update {re.escape(str(BIOS[0]))}(?: \([\d.]+s\))?: {re.escape(HOSTS[0])} left maintenance; held: ", text
    ), text
    store = EstateStore(db)
    try:
        assert not [r.address.name for r in store.list("host.state") if r.status.get("maintenance")]
    finally:
        store.close()
    with store_db.open_store(None) as history:
        assert not store_journal.StoreJournal(history).unfinished()
    assert note not in out(run("plan", specs, "--estate", db))


def test_a_rollout_at_its_limit_with_hosts_an_earlier_run_left_out_reports_the_rest(
    estate: tuple[EmbeddedProvider, Watch],
) -> None:
    provider, watch = estate
    journal = MemoryJournal()
    _left(journal, 0, Step.RESTARTED)  # HV01 out, and not in this (targeted) run
    _set(provider, HOST[0], maintenance=True)
    resources = [r for r in _bios_resources() if r.address == BIOS[1]]
    (result,) = _apply(provider, resources, journal, allow_disruption=True).results
    assert result.status == applier.StepStatus.SKIPPED
    assert result.message.startswith(f"rollout power/max-performance is at its limit: {HOSTS[0]} left out")
    assert not watch.operations()
