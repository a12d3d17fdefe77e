"""Safety at scale: held disruptive changes, maintenance windows, host-by-host BIOS rollout, prune,
stale saved plans, long-running jobs, and applies interrupted by SIGKILL.

CLI tests run in-process through typer's ``CliRunner`` (working directory ``tmp_path``, a temporary estate,
``RECONCILER_DATABASE_URL`` on a temporary state.db, the audit log off); engine tests drive expand,
refresh, planner and applier on a temporary estate with a ``Faults`` subclass that watches every round
trip; the SIGKILL test starts real ``python -m reconciler`` processes. The repository's ``.reconciler/``
is never touched.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import Result

from reconciler.core.addresses import Address
from reconciler.core.changes import Action, Plan
from reconciler.core.errors import PermanentError
from reconciler.core.resources import MaintenanceWindow, Resource
from reconciler.engine import applier, expand, planner, refresh, selection, windows
from reconciler.providers import routing
from reconciler.providers.embedded import rules, seed
from reconciler.providers.embedded.faults import Faults
from reconciler.providers.embedded.provider import EmbeddedProvider
from reconciler.providers.embedded.store import EstateStore, Row
from reconciler.spec.loader import load_paths
from tests.helpers import EMBEDDED_ENV, SPECS, WEEKDAY_NOON, WEEKEND_3AM, copy_specs, init_estate, isolate, pin_clock
from tests.helpers import edit_text as _edit
from tests.helpers import estate_snapshot as _snapshot
from tests.helpers import out as _out
from tests.helpers import pending as _pending
from tests.helpers import pending_addresses as _pending_addresses
from tests.helpers import plain as _plain
from tests.helpers import plan_json as _plan_json
from tests.helpers import run as _run

HELD_STEP = re.compile(r"^‖ (?:create|update|replace|delete) (.+?): held: ", re.MULTILINE)
DELETE_STEP = re.compile(r"^✓ delete (.+?) \(", re.MULTILINE)
UTC = datetime.UTC
ENVIRONMENT = (
    seed.ENV_ESTATE_DB,
    *EMBEDDED_ENV,
    "RECONCILER_EMBEDDED_JOB_POLLS",
    "RECONCILER_JOB_TIMEOUT_S",
)

SITE = "contoso-west"
HOSTS = ("HV01.contoso.int", "HV02.contoso.int", "HV03.contoso.int")
BIOS = tuple(Address("bmc.bios", SITE, h) for h in HOSTS)
VM01 = Address("hyperv.vm_memory", "acmecorp", "VM01")
VM02 = Address("hyperv.vm_memory", "acmecorp", "VM02")
# The shipped estate's power states: every tenant VM runs except FAB-SQL01.
SHIPPED_POWER = {"VM01": "Running", "VM02": "Running", "FAB-WEB01": "Running", "FAB-SQL01": "Off"}
SATURDAY_3AM = datetime.datetime(2025, 1, 4, 3, 0, tzinfo=UTC)  # inside the shipped window (Sat/Sun 02:00, 4h)
THURSDAY_3AM = datetime.datetime(2025, 1, 2, 3, 0, tzinfo=UTC)  # outside it


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in tmp_path with no estate configured, no injected faults, a private state.db, no audit file."""
    isolate(tmp_path, monkeypatch, unset=ENVIRONMENT, audit_log="-")


# --- CLI helpers (the style of test_engine_e2e) --------------------------------------------------------


def _rows(db: Path) -> dict[Address, Row]:
    store = EstateStore(db)
    try:
        return {r.address: r for r in store.all()}
    finally:
        store.close()


def _closure(changes: Sequence[dict[str, Any]], roots: set[str]) -> set[str]:
    """``roots`` and every change whose dependsOn chain (through these changes) reaches one of them."""
    deps = {c["address"]: set(c["dependsOn"]) for c in changes}
    out = set(roots)
    grew = True
    while grew:
        grew = False
        for address, needs in deps.items():
            if address not in out and needs & out:
                out.add(address)
                grew = True
    return out


def _assert_estate_at_rest(db: Path) -> None:
    """Every VM in its shipped power state, every host out of maintenance, no procedure left marked."""
    rows = _rows(db)
    power = {a.name: r.status.get("powerState") for a, r in rows.items() if a.kind == "hyperv.vm_memory"}
    assert power == SHIPPED_POWER
    assert not [str(a) for a, r in rows.items() if a.kind == "host.state" and r.status.get("maintenance")]
    assert not [(str(a), r.status["resume"]) for a, r in rows.items() if "resume" in r.status]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return init_estate(tmp_path / "estate.db")


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    return copy_specs(tmp_path)


# --- engine helpers ----------------------------------------------------------------------------------


def _no_sleep(_seconds: float) -> None:
    pass


def _resources(path: Path) -> list[Resource]:
    loaded = load_paths([path])
    assert loaded.ok, [str(d) for d in loaded.diagnostics]
    return expand.expand(loaded.specs)


def _providers(p: EmbeddedProvider) -> routing.Router:
    return routing.only(p)


def _plan(p: EmbeddedProvider, resources: Sequence[Resource]) -> Plan:
    observed = refresh.read_all(resources, _providers(p), sleep=_no_sleep)
    return planner.make_plan(resources, observed, created_at="2025-01-01T00:00:00+00:00")


def _apply(
    p: EmbeddedProvider,
    plan: Plan,
    resources: Sequence[Resource],
    *,
    allow_disruption: bool = True,
    now: datetime.datetime = THURSDAY_3AM,
) -> applier.ApplyReport:
    return applier.apply_plan(
        plan,
        applier.resources_by_address(resources),
        _providers(p),
        sleep=_no_sleep,
        allow_disruption=allow_disruption,
        now=now,
    )


def _status(report: applier.ApplyReport) -> dict[Address, str]:
    return {r.address: r.status for r in report.results}


def _shipped_window() -> MaintenanceWindow:
    (window,) = {r.policy.rollout.window for r in _resources(SPECS) if r.policy.rollout is not None}
    assert window is not None
    return window


@dataclasses.dataclass
class Watch(Faults):
    """Faults that note, at every round trip, the operation and how many hosts are in maintenance."""

    store: EstateStore | None = None
    calls: list[tuple[str, Address | None]] = dataclasses.field(default_factory=list)
    in_maintenance: list[int] = dataclasses.field(default_factory=list)

    def round_trip(self, what: str, address: Address | None = None) -> None:
        assert self.store is not None
        down = sum(1 for r in self.store.list("host.state") if r.status.get("maintenance"))
        with self._lock:
            self.calls.append((what, address))
            self.in_maintenance.append(down)
        super().round_trip(what, address)

    def operations(self) -> list[tuple[str, Address | None]]:
        return [(what, a) for what, a in self.calls if not what.startswith("list ")]


@dataclasses.dataclass
class FirstHostFails(Watch):
    """A permanent fault on whichever host is the first to enter maintenance mode."""

    def round_trip(self, what: str, address: Address | None = None) -> None:
        if what == "Enter maintenance mode" and address is not None:
            with self._lock:
                if not self.permanent:
                    self.permanent = frozenset({str(address)})
        super().round_trip(what, address)


@pytest.fixture
def watched(db: Path) -> Iterator[tuple[EmbeddedProvider, Watch]]:
    store = EstateStore(db)
    watch = Watch(store=store)
    provider = EmbeddedProvider(store, watch)
    yield provider, watch
    provider.close()


# --- 1. held without leave ---------------------------------------------------------------------------


def test_disruptive_changes_and_their_dependents_are_held_without_leave(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = _plan_json(SPECS, db)
    pending = _pending(document)
    disruptive = {c["address"] for c in pending if c["disruptive"]}
    assert {str(b) for b in BIOS} <= disruptive
    assert {str(VM01), str(VM02)} <= disruptive
    assert {a.split(":")[0] for a in disruptive} == {"hyperv.vm_memory", "bmc.bios"}

    # Outside the shipped power profile's weekend maintenance window the BIOS changes are held too.
    pin_clock(monkeypatch, WEEKDAY_NOON)
    result = _run("apply", SPECS, "--yes", "--estate", db)
    roots = disruptive
    held = _closure(pending, roots)
    assert held > roots  # protection waits for the memory of the VM it protects
    assert {"asr.protected_item:acmecorp/VM01", "asr.protected_item:fabrikam/FAB-WEB01"} <= held

    out = _out(result)
    assert result.exit_code == 0, out
    assert set(HELD_STEP.findall(out)) == held
    assert len(HELD_STEP.findall(out)) == len(held)
    for address in held - roots:
        assert re.search(rf"^‖ \w+ {re.escape(address)}: held: waits for ", out, re.MULTILINE), address
    assert f"Apply complete: {len(pending) - len(held)} done, 0 failed, 0 skipped, {len(held)} held." in out
    assert "rerun with --allow-disruption" in out
    assert "✗" not in out

    # Nothing disruptive happened: the VMs kept their memory and ran throughout; no host rebooted.
    shipped = {r.address: r for r in seed.read_estate_file(seed.default_estate_file())}
    rows = _rows(db)
    for address in held:
        parsed = Address.parse(address)
        if parsed in shipped:
            assert rows[parsed].data == shipped[parsed].data, address
        else:
            assert parsed not in rows, address
    _assert_estate_at_rest(db)

    # The next plan still shows exactly the held changes, flagged.
    assert _pending_addresses(SPECS, db) == held
    again = _run("plan", SPECS, "--detailed-exitcode", "--estate", db)
    assert again.exit_code == 2, _out(again)
    assert "⚠ disruptive:" in _out(again)

    # With leave, the rest converges.
    allowed = _run("apply", SPECS, "--yes", "--allow-disruption", "--estate", db)
    out = _out(allowed)
    assert allowed.exit_code == 0, out
    assert f"Apply complete: {len(held)} done, 0 failed, 0 skipped." in out
    assert not HELD_STEP.findall(out)
    assert _run("plan", SPECS, "--detailed-exitcode", "--estate", db).exit_code == 0
    _assert_estate_at_rest(db)


@pytest.mark.parametrize(
    ("window", "when"),
    [
        (None, WEEKEND_3AM),  # the shipped window: Sat/Sun 02:00 UTC for 4h
        ('{days: [Wed], start: "12:30", duration: 1h, timezone: Europe/Berlin}', WEEKDAY_NOON),  # 13:00 in Berlin
    ],
    ids=["shipped-window", "edited-window"],
)
def test_an_open_window_lets_the_bios_changes_through_without_leave(
    specs: Path, db: Path, monkeypatch: pytest.MonkeyPatch, window: str | None, when: str
) -> None:
    if window is not None:
        _edit(
            specs / "profiles" / "power.yaml",
            'maintenanceWindow: {days: [Sat, Sun], start: "02:00", duration: 4h, timezone: UTC}',
            f"maintenanceWindow: {window}",
        )
    pin_clock(monkeypatch, when)
    pending = _pending(_plan_json(specs, db))
    vm_roots = {c["address"] for c in pending if c["disruptive"] and c["kind"] == "hyperv.vm_memory"}
    held = _closure(pending, vm_roots)

    result = _run("apply", specs, "--yes", "--estate", db)
    out = _out(result)
    assert result.exit_code == 0, out
    for bios in BIOS:
        assert re.search(rf"^✓ update {re.escape(str(bios))} ", out, re.MULTILINE), out
    assert set(HELD_STEP.findall(out)) == held
    rows = _rows(db)
    assert all(rows[b].data["attributes"]["SysProfile"] == "PerfOptimized" for b in BIOS)
    assert _pending_addresses(specs, db) == held
    _assert_estate_at_rest(db)


# --- 2. maintenance windows --------------------------------------------------------------------------

WEEKEND = MaintenanceWindow(days=("Sat", "Sun"), start="02:00", duration_s=4 * 3600)
SATURDAY_NIGHT = MaintenanceWindow(days=("Sat",), start="22:00", duration_s=4 * 3600)
AMSTERDAM = MaintenanceWindow(days=("Sat",), start="02:00", duration_s=2 * 3600, timezone="Europe/Amsterdam")
TOKYO_MONDAY = MaintenanceWindow(days=("Mon",), start="01:00", duration_s=3600, timezone="Asia/Tokyo")
NEW_YORK_SUNDAY = MaintenanceWindow(days=("Sun",), start="01:00", duration_s=2 * 3600, timezone="America/New_York")


def _utc(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime.datetime:
    return datetime.datetime(2025, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "now", "expected"),
    [
        pytest.param(WEEKEND, _utc(4, 3), True, id="inside"),
        pytest.param(WEEKEND, _utc(4, 2), True, id="at-the-start"),
        pytest.param(WEEKEND, _utc(4, 1, 59), False, id="just-before"),
        pytest.param(WEEKEND, _utc(4, 6), False, id="at-the-end-exclusive"),
        pytest.param(WEEKEND, _utc(5, 5, 59), True, id="second-day"),
        pytest.param(WEEKEND, _utc(6, 3), False, id="a-day-not-listed"),
        pytest.param(WEEKEND, _utc(2, 3), False, id="another-day-not-listed"),
        pytest.param(SATURDAY_NIGHT, _utc(4, 23, 30), True, id="midnight-before"),
        pytest.param(SATURDAY_NIGHT, _utc(5, 1, 30), True, id="midnight-after"),
        pytest.param(SATURDAY_NIGHT, _utc(5, 2), False, id="midnight-ended"),
        pytest.param(SATURDAY_NIGHT, _utc(5, 22, 30), False, id="midnight-sunday-not-a-start-day"),
        pytest.param(SATURDAY_NIGHT, _utc(3, 23), False, id="midnight-friday"),
        # 02:00-04:00 in Amsterdam: 01:00-03:00 UTC in winter (CET), 00:00-02:00 UTC in summer (CEST).
        pytest.param(AMSTERDAM, _utc(4, 3, 30), False, id="zone-0330-utc-is-0430-local"),
        pytest.param(AMSTERDAM, _utc(4, 0, 30), False, id="zone-winter-before"),
        pytest.param(AMSTERDAM, _utc(4, 1, 30), True, id="zone-winter-inside"),
        pytest.param(AMSTERDAM, _utc(4, 2), True, id="zone-winter-late"),
        pytest.param(AMSTERDAM, _utc(4, 3), False, id="zone-winter-end"),
        pytest.param(AMSTERDAM, _utc(5, 0, 30, month=7), True, id="zone-summer-inside"),
        pytest.param(AMSTERDAM, _utc(5, 2, month=7), False, id="zone-summer-end"),
        pytest.param(TOKYO_MONDAY, _utc(5, 16, 30), True, id="zone-local-monday-is-utc-sunday"),
        pytest.param(TOKYO_MONDAY, _utc(6, 1, 30), False, id="zone-utc-monday-is-not-local-monday-1am"),
        # Two hours are two hours across a daylight-saving change: 2025-11-02 01:00 EDT is 05:00 UTC, and
        # 2025-03-09 01:00 EST is 06:00 UTC.
        pytest.param(NEW_YORK_SUNDAY, _utc(2, 6, 59, month=11), True, id="dst-fall-back-inside"),
        pytest.param(NEW_YORK_SUNDAY, _utc(2, 7, 0, month=11), False, id="dst-fall-back-2h-not-3h"),
        pytest.param(NEW_YORK_SUNDAY, _utc(9, 7, 30, month=3), True, id="dst-spring-forward-2h-not-1h"),
        pytest.param(NEW_YORK_SUNDAY, _utc(9, 8, 0, month=3), False, id="dst-spring-forward-end"),
    ],
)
def test_is_open(window: MaintenanceWindow, now: datetime.datetime, expected: bool) -> None:
    assert windows.is_open(window, now) is expected
    # The same instant given in another zone gives the same answer.
    assert windows.is_open(window, now.astimezone(datetime.timezone(datetime.timedelta(hours=-5)))) is expected


@pytest.mark.parametrize("now", [SATURDAY_3AM, THURSDAY_3AM], ids=["inside-the-window", "outside-the-window"])
def test_the_power_profile_window_decides_whether_bios_waits(
    watched: tuple[EmbeddedProvider, Watch], now: datetime.datetime
) -> None:
    provider, _watch = watched
    window = _shipped_window()
    assert window.days == ("Sat", "Sun")
    inside = windows.is_open(window, now)
    assert inside is (now == SATURDAY_3AM)
    resources = _resources(SPECS)
    plan = _plan(provider, resources)
    report = _apply(provider, plan, resources, allow_disruption=False, now=now)
    status = _status(report)
    for bios in BIOS:
        assert status[bios] == (applier.StepStatus.DONE if inside else applier.StepStatus.HELD), bios
    # VM memory has no window: held either way, with what waits on it.
    assert status[VM01] == status[VM02] == applier.StepStatus.HELD
    assert status[Address("asr.protected_item", "acmecorp", "VM01")] == applier.StepStatus.HELD
    held = {r.address: r.message for r in report.by_status(applier.StepStatus.HELD)}
    assert "use --allow-disruption or wait for the maintenance window" in held[VM01]
    rows = {a: provider.store.get(a) for a in BIOS}
    wanted = "PerfOptimized" if inside else "PerfPerWattOptimizedDapc"
    assert {a: r.data["attributes"]["SysProfile"] for a, r in rows.items() if r is not None} == dict.fromkeys(
        BIOS, wanted
    )
    assert not any(r.status.get("maintenance") for r in provider.store.list("host.state"))


# --- 3. host-by-host rollout -------------------------------------------------------------------------


def _bios_only(path: Path) -> list[Resource]:
    return selection.select(_resources(path), targets=["bmc.bios"])


@pytest.mark.parametrize("max_unavailable", [1, 2])
def test_bios_rolls_out_at_most_max_unavailable_hosts_at_once(
    specs: Path, watched: tuple[EmbeddedProvider, Watch], max_unavailable: int
) -> None:
    _edit(specs / "profiles" / "power.yaml", "maxUnavailable: 1", f"maxUnavailable: {max_unavailable}")
    resources = _bios_only(specs)
    assert {r.address for r in resources} == set(BIOS)
    assert all(r.policy.rollout is not None and r.policy.rollout.max_unavailable == max_unavailable for r in resources)
    provider, watch = watched
    watch.latency_s, watch.job_polls = 0.005, 4  # each host stays in maintenance for several round trips
    plan = _plan(provider, resources)
    assert {c.address for c in plan.pending if c.disruptive} == set(BIOS)
    report = _apply(provider, plan, resources)
    assert {r.status for r in report.results} == {applier.StepStatus.DONE}, report.results
    assert max(watch.in_maintenance) == max_unavailable  # reached, never exceeded
    assert [w for w, _ in watch.operations()].count("Enter maintenance mode") == 3
    assert not any(r.status.get("maintenance") for r in provider.store.list("host.state"))
    assert not _plan(provider, resources).pending


def _check_stopped_rollout(report: applier.ApplyReport, watch: Watch, failing: Address) -> list[str]:
    """The rollout stopped at its failure: nothing BIOS finished or started after it. Returns the statuses."""
    results = [r for r in report.results if r.address.kind == "bmc.bios"]
    statuses = [r.status for r in results]
    assert statuses.count(applier.StepStatus.FAILED) == 1, results
    failed = results[statuses.index(applier.StepStatus.FAILED)]
    assert failed.address == Address("bmc.bios", SITE, failing.name)
    assert failed.message == f"Enter maintenance mode {failing}: injected permanent fault"
    # In completion order no BIOS step is done after the failed one; the rest were skipped.
    after = statuses[statuses.index(applier.StepStatus.FAILED) + 1 :]
    assert applier.StepStatus.DONE not in after, results
    assert set(statuses) <= {applier.StepStatus.DONE, applier.StepStatus.FAILED, applier.StepStatus.SKIPPED}
    for r in results:
        if r.status == applier.StepStatus.SKIPPED:
            assert r.message == f"rollout stopped: {failed.address} failed", r
    # And in time: no host was patched, put in maintenance or reset after the failure.
    ops = watch.operations()
    at = ops.index(("Enter maintenance mode", failing))
    assert not [
        op for op in ops[at + 1 :] if op[0] in ("PATCH Bios/Settings", "Enter maintenance mode", "ComputerSystem.Reset")
    ]
    # The hosts skipped were not touched at all.
    touched = {a.name for _, a in ops if a is not None}
    for r in results:
        if r.status == applier.StepStatus.SKIPPED:
            assert r.address.name not in touched, r
    return statuses


@pytest.mark.parametrize("host", HOSTS)
def test_a_failed_host_stops_the_rollout(db: Path, host: str) -> None:
    failing = Address("host.state", SITE, host)
    store = EstateStore(db)
    watch = Watch(store=store, latency_s=0.005, permanent=frozenset({str(failing)}))
    provider = EmbeddedProvider(store, watch)
    try:
        resources = _bios_only(SPECS)
        report = _apply(provider, _plan(provider, resources), resources)
        _check_stopped_rollout(report, watch, failing)
        assert not any(r.status.get("maintenance") for r in store.list("host.state"))
        assert not any("resume" in r.status for r in store.list("bmc.bios"))
    finally:
        provider.close()


def test_the_first_host_failing_skips_every_other_host_and_a_rerun_finishes(db: Path) -> None:
    store = EstateStore(db)
    watch = FirstHostFails(store=store, latency_s=0.005)
    provider = EmbeddedProvider(store, watch)
    try:
        resources = _bios_only(SPECS)
        report = _apply(provider, _plan(provider, resources), resources)
        (failing,) = (Address.parse(p) for p in watch.permanent)
        statuses = _check_stopped_rollout(report, watch, failing)
        assert sorted(statuses) == sorted([applier.StepStatus.FAILED] + [applier.StepStatus.SKIPPED] * 2)
        assert not any(r.status.get("maintenance") for r in store.list("host.state"))
        # The failed host's settings were staged (PATCH) but never applied: no reboot happened.
        bios = store.get(Address("bmc.bios", SITE, failing.name))
        assert bios is not None
        assert bios.data["attributes"]["SysProfile"] == "PerfPerWattOptimizedDapc"

        provider.faults = Watch(store=store)
        rerun = _plan(provider, resources)
        assert {c.address for c in rerun.pending} == set(BIOS)
        assert _apply(provider, rerun, resources).ok
        assert not _plan(provider, resources).pending
    finally:
        provider.close()


# --- 4. prune ----------------------------------------------------------------------------------------


def _drop_recovery(tenant_file: Path, vm: str) -> None:
    """Remove a tenant's recovery block and stop protecting ``vm`` (no protection without recovery)."""
    text = tenant_file.read_text(encoding="utf-8")
    start, end = text.index("  recovery:\n"), text.index("  vms:\n")
    tenant_file.write_text(text[:start] + text[end:], encoding="utf-8")
    _edit(tenant_file, f"    - name: {vm}\n      protect: true\n", f"    - name: {vm}\n      protect: false\n")


def test_prune_deletes_only_what_reconciler_created_and_was_marked_prunable(specs: Path, db: Path) -> None:
    acmecorp, fabrikam = specs / "tenants" / "acmecorp.yaml", specs / "tenants" / "fabrikam.yaml"
    # Marked prunable when created: acmecorp's policy (and its association), network mapping and VM01's
    # protection; FAB-SQL01's protection too, but it is also protected.
    _edit(
        acmecorp,
        "      appConsistentSnapshotHours: 1\n",
        "      appConsistentSnapshotHours: 1\n      lifecycle: {prune: true}\n",
    )
    _edit(acmecorp, "azureSubnet: Subnet1}", "azureSubnet: Subnet1, lifecycle: {prune: true}}")
    _edit(
        acmecorp,
        "lifecycle: {ignoreFields: [memory.priority]}",
        "lifecycle: {ignoreFields: [memory.priority], prune: true}",
    )
    _edit(fabrikam, "lifecycle: {protect: true}", "lifecycle: {protect: true, prune: true}")
    assert _run("validate", specs).exit_code == 0
    assert _run("apply", specs, "--yes", "--allow-disruption", "--estate", db).exit_code == 0
    assert _run("plan", specs, "--detailed-exitcode", "--estate", db).exit_code == 0

    # Then the specs drop them: acmecorp's whole recovery block, and FAB-SQL01's protection.
    _drop_recovery(acmecorp, "VM01")
    _edit(fabrikam, "    - name: FAB-SQL01\n      protect: true\n", "    - name: FAB-SQL01\n      protect: false\n")
    plans = "    plans:                               # VMs that fail over together, group by group\n"
    text = fabrikam.read_text(encoding="utf-8")
    fabrikam.write_text(text[: text.index(plans)] + text[text.index("  vms:\n") :], encoding="utf-8")
    assert _run("validate", specs).exit_code == 0
    prunable = [
        "asr.replication_policy:acmecorp/AcmeCorp-Policy",
        "asr.policy_association:acmecorp/AcmeCorp Cloud",
        "asr.network_mapping:acmecorp/YellowNetwork",
        "asr.protected_item:acmecorp/VM01",
    ]
    not_prunable = "not marked prunable (lifecycle.prune) when it was created"
    kept = {
        "azure.resource_group:acmecorp/AcmeCorpRecoveryGroup": not_prunable,
        "azure.storage_account:acmecorp/drstorageacct1": not_prunable,
        "azure.virtual_network:acmecorp/YellowNetwork": not_prunable,
        "azure.virtual_network:acmecorp/YellowNetwork-drill": not_prunable,  # the drill network (docs/drills.md)
        "azure.virtual_network:fabrikam/BlueNetwork-DR-drill": not_prunable,
        "asr.protected_item:fabrikam/FAB-SQL01": "protected (lifecycle.protect): never deleted",
        "asr.recovery_plan:fabrikam/Fabrikam-DR": not_prunable,
    }

    # Without --prune nothing is deleted: every orphan is listed as not declared, with why it is kept.
    document = _plan_json(specs, db)
    assert not _pending(document)
    orphans = {c["address"]: c for c in document["changes"] if c["noopReason"] == "not-declared"}
    assert set(orphans) == set(prunable) | set(kept)
    for address in prunable:
        assert orphans[address]["reason"] == "not declared; would be deleted with --prune", address
    for address, why in kept.items():
        assert orphans[address]["reason"] == f"not declared; {why}", address
    before = _snapshot(db)
    plain = _run("apply", specs, "--yes", "--allow-disruption", "--estate", db)
    assert plain.exit_code == 0, _out(plain)
    assert "No changes." in _out(plain)
    assert "(not declared; would be deleted with --prune)" in _out(_run("plan", specs, "--estate", db))
    assert _snapshot(db) == before

    # With --prune: only the prunable ones, dependents first (each waits for what uses it).
    document = _plan_json(specs, db, "--prune")
    deletes = {c["address"]: c for c in _pending(document)}
    assert set(deletes) == set(prunable)
    assert all(c["action"] == "delete" for c in deletes.values())
    for i, address in enumerate(prunable):
        assert set(deletes[address]["dependsOn"]) == set(prunable[i + 1 :]), address
    shown = _out(_run("plan", specs, "--prune", "--estate", db))
    assert "Plan: 0 to create, 0 to update, 0 to replace, 4 to delete" in shown
    for address, why in kept.items():
        assert f"(not declared; {why})  {address}" in shown

    result = _run("apply", specs, "--yes", "--prune", "--estate", db)
    out = _out(result)
    assert result.exit_code == 0, out  # in that order nothing is still in use: no InUse refusal
    assert "✗" not in out
    assert DELETE_STEP.findall(out) == list(reversed(prunable))
    rows = _rows(db)
    assert not [a for a in prunable if Address.parse(a) in rows]
    assert all(Address.parse(a) in rows for a in kept)
    after = _run("plan", specs, "--prune", "--detailed-exitcode", "--estate", db)
    assert after.exit_code == 0, _out(after)
    left = _plan_json(specs, db, "--prune")["changes"]
    assert {c["address"] for c in left if c["noopReason"] == "not-declared"} == set(kept)
    _assert_estate_at_rest(db)


def test_objects_reconciler_did_not_create_are_never_pruned(specs: Path, db: Path) -> None:
    fabrikam = specs / "tenants" / "fabrikam.yaml"
    cloud = "    name: Fabrikam Cloud\n    hostGroups: [All Hosts/West]\n    logicalNetworks: [Provider Address]\n"
    # The specs even mark the seeded cloud prunable: updating it does not make it reconciler's.
    _edit(fabrikam, cloud, cloud + "    lifecycle: {prune: true}\n")
    assert _run("apply", specs, "--yes", "--allow-disruption", "--estate", db).exit_code == 0
    seeded = Address("vmm.cloud", "fabrikam", "Fabrikam Cloud")
    row = _rows(db)[seeded]
    assert not row.owned
    assert "marker" not in row.status

    _edit(fabrikam, "    name: Fabrikam Cloud\n", "    name: Fabrikam Cloud West\n")
    document = _plan_json(specs, db, "--prune")
    (orphan,) = [c for c in document["changes"] if c["address"] == str(seeded)]
    assert orphan["action"] == "noop"
    assert orphan["noopReason"] == "not-declared"
    assert orphan["reason"] == "not declared; not created by reconciler (no ownership marker): never deleted"
    assert not [c for c in _pending(document) if c["action"] == "delete"]
    result = _run("apply", specs, "--yes", "--allow-disruption", "--prune", "--estate", db)
    assert result.exit_code == 0, _out(result)
    assert not re.search(r"^[✓✗=-] delete ", _out(result), re.MULTILINE)
    assert seeded in _rows(db)
    assert _run("plan", specs, "--prune", "--detailed-exitcode", "--estate", db).exit_code == 0


def test_protection_added_after_creation_is_recorded_and_prune_keeps_the_object(specs: Path, db: Path) -> None:
    acmecorp = specs / "tenants" / "acmecorp.yaml"
    mapping = Address("asr.network_mapping", "acmecorp", "YellowNetwork")
    _edit(acmecorp, "azureSubnet: Subnet1}", "azureSubnet: Subnet1, lifecycle: {prune: true}}")
    assert _run("apply", specs, "--yes", "--allow-disruption", "--estate", db).exit_code == 0
    assert _rows(db)[mapping].status["marker"] == {"managedBy": "reconciler", "prune": True, "protect": False}

    # Protection added later is a change to apply (the marker is what prune trusts later) ...
    _edit(acmecorp, "lifecycle: {prune: true}}", "lifecycle: {prune: true, protect: true}}")
    plan = _run("plan", specs, "--estate", db)
    assert "~ lifecycle.protect: false → true" in _out(plan), _out(plan)
    assert _pending_addresses(specs, db) == {str(mapping)}
    assert _run("apply", specs, "--yes", "--estate", db).exit_code == 0
    assert _rows(db)[mapping].status["marker"]["protect"] is True
    assert _run("plan", specs, "--detailed-exitcode", "--estate", db).exit_code == 0

    # ... so once the specs drop the mapping, --prune keeps it.
    _drop_recovery(acmecorp, "VM01")
    document = _plan_json(specs, db, "--prune")
    assert not [c for c in _pending(document) if c["address"] == str(mapping)]
    (kept,) = [c for c in document["changes"] if c["address"] == str(mapping)]
    assert kept["reason"] == "not declared; protected (lifecycle.protect): never deleted"


def test_a_targeted_prune_never_deletes_what_the_specs_declare(specs: Path, db: Path) -> None:
    _edit(
        specs / "sites" / "contoso-west.yaml",
        "    subnet: 192.168.254.0/24\n",
        "    subnet: 192.168.254.0/24\n    lifecycle: {prune: true}\n",
    )
    assert _run("apply", specs, "--yes", "--allow-disruption", "--estate", db).exit_code == 0
    default_network = Address("vmm.vm_network", SITE, "Default-NVGRE")
    result = _run("apply", specs, "--yes", "--prune", "--target", "tenant/acmecorp", "--estate", db)
    assert result.exit_code == 0, _out(result)
    assert default_network in _rows(db)  # declared in the site spec: never pruned
    assert _run("plan", specs, "--detailed-exitcode", "--estate", db).exit_code == 0


def test_the_estate_refuses_to_delete_what_is_still_used_or_not_its_own(
    watched: tuple[EmbeddedProvider, Watch],
) -> None:
    provider, _watch = watched
    resources = _resources(SPECS)
    assert _apply(provider, _plan(provider, resources), resources).ok
    storage = provider.store.get(Address("azure.storage_account", "acmecorp", "drstorageacct1"))
    assert storage is not None
    with pytest.raises(PermanentError, match="still uses it") as e:
        rules.check_delete(provider.store, storage)
    assert e.value.code == "InUse"
    cloud = Address("vmm.cloud", "acmecorp", "AcmeCorp Cloud")
    delete = dataclasses.replace(
        planner.plan_one(_one(resources, cloud), provider.read([_one(resources, cloud)])[cloud]),
        action=Action.DELETE,
    )
    with pytest.raises(PermanentError, match="not created by reconciler") as e:
        provider.apply(delete, _one(resources, cloud))
    assert e.value.code == "NotOwned"
    assert provider.store.get(cloud) is not None


def _one(resources: Sequence[Resource], address: Address) -> Resource:
    (r,) = [r for r in resources if r.address == address]
    return r


# --- 5. stale saved plans ----------------------------------------------------------------------------


def _refused(result: Result) -> str:
    err = _plain(result.stderr)
    assert result.exit_code == 1, _out(result)
    assert "refusing to apply a plan nobody reviewed" in err
    assert "Run plan -o again" in err
    assert not re.search(r"^[✓=✗‖-] (create|update|replace|delete) ", _out(result), re.MULTILINE)
    return err


def test_a_saved_plan_is_refused_when_a_live_object_it_touches_changed(db: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert _run("plan", SPECS, "-o", saved, "--estate", db).exit_code == 0
    store = EstateStore(db)  # a change behind the tool's back (an operator in VMM)
    try:
        row = store.get(VM02)
        assert row is not None
        row.data = {**row.data, "maximum": 6144}
        store.put(row)
    finally:
        store.close()
    before = _snapshot(db)
    err = _refused(_run("apply", saved, "--yes", "--allow-disruption", "--estate", db))
    assert "The live state changed since" in err
    assert f"~ {VM02}: maximum changed (version 1 -> 2)" in err
    assert _snapshot(db) == before


def test_a_saved_plan_is_refused_when_an_object_it_would_create_appeared(db: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert _run("plan", SPECS, "-o", saved, "--estate", db).exit_code == 0
    shown = _run("estate", "show", "--format", "yaml", "--estate", db)
    estate = yaml.safe_load(shown.stdout)
    estate["objects"].append(
        {
            "kind": "vmm.logical_network",
            "scope": SITE,
            "name": "Provider Address",
            "data": {"name": "Provider Address", "networkVirtualization": True},
        }
    )
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(estate, sort_keys=False), encoding="utf-8")
    assert _run("estate", "init", "--from", edited, "--estate", db).exit_code == 0
    before = _snapshot(db)
    err = _refused(_run("apply", saved, "--yes", "--allow-disruption", "--estate", db))
    assert "The live state changed since" in err
    assert "+ vmm.logical_network:contoso-west/Provider Address: now exists (it was to be created)" in err
    assert _snapshot(db) == before


def test_a_saved_plan_is_refused_after_the_estate_was_edited_and_reloaded(db: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert _run("plan", SPECS, "-o", saved, "--estate", db).exit_code == 0
    estate = yaml.safe_load(_run("estate", "show", "--format", "yaml", "--estate", db).stdout)
    for o in estate["objects"]:
        if o["kind"] == "hyperv.vm_memory" and o["name"] == "VM02":
            o["data"]["maximum"] = 6144
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(estate, sort_keys=False), encoding="utf-8")
    assert _run("estate", "init", "--from", edited, "--estate", db).exit_code == 0
    err = _refused(_run("apply", saved, "--yes", "--allow-disruption", "--estate", db))
    assert f"~ {VM02}: maximum changed" in err


def test_a_saved_plan_is_refused_when_the_specs_changed_and_says_what_changed(
    specs: Path, db: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    assert _run("plan", specs, "-o", saved, "--estate", db).exit_code == 0
    acmecorp = specs / "tenants" / "acmecorp.yaml"
    _edit(acmecorp, "replicationIntervalSeconds: 900", "replicationIntervalSeconds: 300")
    _edit(
        acmecorp,
        "      subnets: [{name: Yellow-1, subnet: 192.168.10.0/24}]\n",
        "      subnets: [{name: Yellow-1, subnet: 192.168.10.0/24}]\n"
        "    - name: GreenNetwork\n"
        "      logicalNetwork: Provider Address\n"
        "      subnets: [{name: Green-1, subnet: 192.168.11.0/24}]\n",
    )
    _edit(
        acmecorp,
        "    - name: VM02\n      protect: false\n      osType: Linux\n      memory: {dynamic: false, startup: 4GiB}\n",
        "",
    )
    assert _run("validate", specs).exit_code == 0
    before = _snapshot(db)
    err = _refused(_run("apply", saved, "--yes", "--allow-disruption", "--estate", db))
    assert "The specs changed since" in err
    lines = [line.strip() for line in err.splitlines() if line.startswith("  ")]
    assert "~ asr.replication_policy:acmecorp/AcmeCorp-Policy: replicationIntervalSeconds" in lines
    assert "+ vmm.vm_network:acmecorp/GreenNetwork: new in the specs" in lines
    assert f"- {VM02}: no longer in the specs" in lines
    assert _snapshot(db) == before


# --- 6. long-running jobs ----------------------------------------------------------------------------


def test_a_job_over_its_timeout_fails_the_step_and_a_rerun_converges(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    items = [c["address"] for c in _pending(_plan_json(SPECS, db)) if c["kind"] == "asr.protected_item"]
    assert len(items) == 3
    monkeypatch.setenv("RECONCILER_JOB_TIMEOUT_S", "0")
    monkeypatch.setenv("RECONCILER_EMBEDDED_JOB_POLLS", "3")
    monkeypatch.setenv("RECONCILER_EMBEDDED_LATENCY_MS", "2")
    result = _run("apply", SPECS, "--yes", "--allow-disruption", "--estate", db)
    out = _out(result)
    assert result.exit_code == 1, out
    for address in items:
        assert re.search(
            rf"^  ✗ {re.escape(address)}: EnableProtection on {re.escape(address)} did not finish within 0s; "
            r"it may still finish: run apply again to check$",
            out,
            re.MULTILINE,
        ), out
    # A host restart is waited on too: the first host's is not confirmed in time, so the host stays in
    # maintenance (it leaves only once its restart is confirmed) and the rollout stops.
    timed_out = re.search(
        r"host restart on host\.state:contoso-west/(HV0\d\.contoso\.int) did not finish within 0s", out
    )
    assert timed_out, out
    assert len(re.findall(r"^- update bmc\.bios:\S+: rollout stopped: bmc\.bios:", out, re.MULTILINE)) == 2
    out_of_service = [a.name for a, r in _rows(db).items() if a.kind == "host.state" and r.status.get("maintenance")]
    assert out_of_service == [timed_out.group(1)]
    # The next plan says what was left, and by which run.
    planned = _out(_run("plan", SPECS, "--estate", db))
    assert re.search(rf"{re.escape(timed_out.group(1))} in maintenance since \S+, by run \w+", planned), planned

    monkeypatch.delenv("RECONCILER_JOB_TIMEOUT_S")
    rerun = _run("apply", SPECS, "--yes", "--allow-disruption", "--estate", db)
    assert rerun.exit_code == 0, _out(rerun)
    assert _run("plan", SPECS, "--detailed-exitcode", "--estate", db).exit_code == 0
    _assert_estate_at_rest(db)


def test_a_job_timeout_is_a_permanent_error_with_its_code(watched: tuple[EmbeddedProvider, Watch]) -> None:
    provider, watch = watched
    resources = _resources(SPECS)
    first = selection.select(resources, excludes=["asr.protected_item"])
    assert _apply(provider, _plan(provider, first), first).ok
    watch.latency_s, watch.job_polls, watch.job_timeout_s = 0.002, 3, 0.0
    item = _one(resources, Address("asr.protected_item", "fabrikam", "FAB-SQL01"))
    change = planner.plan_one(item, provider.read([item])[item.address])
    progress: list[str] = []
    with pytest.raises(PermanentError, match="did not finish within 0s; it may still finish") as e:
        provider.apply(change, item, progress=progress.append)
    assert e.value.code == "JobTimeout"
    # The request went through; only the wait gave up: the next plan finds it in sync.
    assert provider.store.get(item.address) is not None
    watch.job_timeout_s = 600.0
    assert not [c for c in _plan(provider, resources).pending if c.address == item.address]


# --- interrupted procedures --------------------------------------------------------------------------


def test_a_vm_power_cycle_marks_the_vm_before_stopping_it_and_clears_the_mark_after(
    watched: tuple[EmbeddedProvider, Watch],
) -> None:
    """The VM's power cycle around a memory change is the provider's own procedure (the host rollout is the
    engine's, journaled: tests/test_host_rollout.py)."""
    provider, watch = watched
    seen: dict[str, object] = {}
    inner = watch.round_trip

    def look(what: str, address: Address | None = None) -> None:
        if what == "Stop-VM" and address == VM02:
            row = provider.store.get(VM02)
            seen["resume"] = row.status.get("resume") if row else None
        inner(what, address)

    watch.round_trip = look  # type: ignore[method-assign]
    resources = [r for r in _resources(SPECS) if r.address == VM02]
    assert _apply(provider, _plan(provider, resources), resources).ok
    assert seen == {"resume": "Start-VM"}
    row = provider.store.get(VM02)
    assert row is not None
    assert "resume" not in row.status


def _interrupt(store: EstateStore, address: Address, *, data: dict[str, Any], status: dict[str, Any]) -> None:
    row = store.get(address)
    assert row is not None
    row.data = {**row.data, **data}
    row.status = {**row.status, **status}
    store.put(row)


def test_a_vm_left_off_by_a_killed_apply_is_started_by_the_next_one(watched: tuple[EmbeddedProvider, Watch]) -> None:
    provider, watch = watched
    vm02 = _one(_resources(SPECS), VM02)
    # Killed after Set-VMMemory, before Start-VM: the memory is in, the VM is off, the mark is there.
    _interrupt(provider.store, VM02, data=vm02.desired, status={"powerState": "Off", "resume": "Start-VM"})
    plan = _plan(provider, [vm02])
    (change,) = plan.pending
    assert change.action is Action.UPDATE
    assert change.reason == "an interrupted apply left this unfinished: Start-VM"
    assert not change.fields
    assert not change.disruptive  # finishing it is not held: it brings the VM back
    report = _apply(provider, plan, [vm02], allow_disruption=False)
    assert _status(report) == {VM02: applier.StepStatus.DONE}
    row = provider.store.get(VM02)
    assert row is not None
    assert row.status["powerState"] == "Running"
    assert "resume" not in row.status
    assert "Stop-VM" not in [w for w, _ in watch.operations()]
    assert not _plan(provider, [vm02]).pending


def test_the_json_plan_says_an_interrupted_apply_left_something_unfinished(db: Path) -> None:
    assert _run("apply", SPECS, "--yes", "--allow-disruption", "--estate", db).exit_code == 0
    store = EstateStore(db)
    try:
        _interrupt(store, VM02, data={}, status={"powerState": "Off", "resume": "Start-VM"})
    finally:
        store.close()
    (change,) = _pending(_plan_json(SPECS, db))
    assert change["address"] == str(VM02)
    assert change["action"] == "update"
    assert change["reason"] == "an interrupted apply left this unfinished: Start-VM"
    result = _run("apply", SPECS, "--yes", "--estate", db)  # no leave needed to finish it
    assert result.exit_code == 0, _out(result)
    _assert_estate_at_rest(db)


def test_the_text_plan_says_an_interrupted_apply_left_something_unfinished(db: Path) -> None:
    assert _run("apply", SPECS, "--yes", "--allow-disruption", "--estate", db).exit_code == 0
    store = EstateStore(db)
    try:
        _interrupt(store, VM02, data={}, status={"powerState": "Off", "resume": "Start-VM"})
    finally:
        store.close()
    assert "an interrupted apply left this unfinished" in _out(_run("plan", SPECS, "--estate", db))


# --- 7. SIGKILL during apply -------------------------------------------------------------------------

TRIALS = 5


def _unique_rows(db: Path) -> list[Row]:
    rows = EstateStore(db)
    try:
        all_rows = rows.all()
    finally:
        rows.close()
    keys = [(r.address.kind, r.address.scope, r.address.name.casefold()) for r in all_rows]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    assert not duplicated, duplicated
    return all_rows


def _round_trips_of_an_apply(specs: Path, work: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many round trips ``apply --yes --allow-disruption`` makes on a fresh estate: the same each time
    (no faults, fixed polls), so a kill at round trip N lands at the same moment in every run."""
    faults = Faults(job_polls=2)
    monkeypatch.setattr(Faults, "from_env", classmethod(lambda _cls, _env=None: faults))
    work.mkdir()
    seed.init_estate(work / "estate.db")
    with monkeypatch.context() as inner:
        inner.setenv("RECONCILER_DATABASE_URL", f"sqlite:///{work / 'state.db'}")
        result = _run("apply", specs, "--yes", "--allow-disruption", "--estate", work / "estate.db")
    assert result.exit_code == 0, _out(result)
    monkeypatch.undo()
    return faults.round_trips


@pytest.mark.slow
def test_an_apply_killed_at_chosen_moments_is_finished_by_the_next_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed (SIGKILL) at TRIALS round trips spread over a whole apply, by the estate's crash fault: the
    moments are the same on any machine, whatever its load. Whatever each kill leaves half done is marked
    (a VM stopped: its resume mark; a host out: an open journal entry), and the next apply finishes it."""
    from reconciler.store import db as store_db
    from reconciler.store import journal

    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs)
    total = _round_trips_of_an_apply(specs, tmp_path / "count", monkeypatch)
    base = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT}
    base.update(NO_COLOR="1", RECONCILER_AUDIT_LOG="-", RECONCILER_LOG_LEVEL="warning")

    def run(work: Path, *args: str | Path, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        env = {**base, "RECONCILER_DATABASE_URL": f"sqlite:///{work / 'state.db'}", **(extra or {})}
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", *(str(a) for a in args)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
        return done

    for trial in range(TRIALS):
        at = max(1, total * (2 * trial + 1) // (2 * TRIALS))  # the middles of TRIALS equal slices
        where = f"trial {trial}: killed at round trip {at} of {total}"
        work = tmp_path / f"trial{trial}"
        work.mkdir()
        db = work / "estate.db"
        seed.init_estate(db)
        crash = {"RECONCILER_EMBEDDED_CRASH_AFTER": str(at), "RECONCILER_EMBEDDED_JOB_POLLS": "2"}
        killed = run(work, "apply", specs, "--yes", "--allow-disruption", "--estate", db, extra=crash)
        assert killed.returncode == -signal.SIGKILL, (where, killed.stdout + killed.stderr)
        # Whatever the kill left half done is marked, so that the next run can find and finish it.
        rows = {r.address: r for r in _unique_rows(db)}
        with store_db.open_store(f"sqlite:///{work / 'state.db'}") as store:
            open_hosts = {r.host.name for r in journal.StoreJournal(store).unfinished() if r.ours}
        for address, row in rows.items():
            if address.kind == "hyperv.vm_memory" and row.status.get("powerState") != SHIPPED_POWER[address.name]:
                assert row.status.get("resume") == "Start-VM", (where, row)
            if address.kind == "host.state" and row.status.get("maintenance"):
                assert address.name in open_hosts, (where, row)

        # The dead run could not release its scope locks: an operator force-unlocks, then reruns.
        unlock = run(work, "force-unlock", "--all", "--yes")
        assert unlock.returncode == 0, (where, unlock.stdout + unlock.stderr)
        rerun = run(work, "apply", specs, "--yes", "--allow-disruption", "--estate", db)
        assert rerun.returncode == 0, (where, rerun.stdout + rerun.stderr)
        final = run(work, "plan", specs, "--detailed-exitcode", "--estate", db)
        assert final.returncode == 0, (where, rerun.stdout, final.stdout + final.stderr)

        rows = {r.address: r for r in _unique_rows(db)}
        power = {a.name: r.status.get("powerState") for a, r in rows.items() if a.kind == "hyperv.vm_memory"}
        assert power == SHIPPED_POWER, where
        assert not [a for a, r in rows.items() if a.kind == "host.state" and r.status.get("maintenance")], where
        assert not [(str(a), r.status) for a, r in rows.items() if "resume" in r.status], where
        with store_db.open_store(f"sqlite:///{work / 'state.db'}") as store:
            assert not journal.StoreJournal(store).unfinished(), where
