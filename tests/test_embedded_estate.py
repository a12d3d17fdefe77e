"""The embedded estate: bulk reads, the real systems' rules, multi-step procedures, latency and faults,
idempotent apply, persistence.

Driven through ``reconciler.providers.embedded`` and the engine (expand, refresh, planner, applier) on a
temporary estate reset from the shipped estate file. Retry back-off sleeps are replaced by no-ops so
that runs with injected faults stay fast.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from reconciler.core.addresses import Address
from reconciler.core.changes import Action, Plan
from reconciler.core.errors import PermanentError, PreconditionError, TemporaryError
from reconciler.core.resources import Resource
from reconciler.engine import applier, expand, planner, refresh, selection
from reconciler.engine.graph import Graph
from reconciler.engine.journal import MemoryJournal
from reconciler.engine.procedures import host_reboot
from reconciler.providers import routing
from reconciler.providers.embedded import rules, seed
from reconciler.providers.embedded.faults import Faults
from reconciler.providers.embedded.provider import EmbeddedProvider
from reconciler.providers.embedded.store import EstateStore, Row
from reconciler.spec.loader import load_paths

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
FIXTURES = ROOT / "tests" / "fixtures" / "engine"

VM01 = Address("hyperv.vm_memory", "acmecorp", "VM01")
VM02 = Address("hyperv.vm_memory", "acmecorp", "VM02")
FAB_SQL01 = Address("hyperv.vm_memory", "fabrikam", "FAB-SQL01")
BIOS_HV01 = Address("bmc.bios", "contoso-west", "HV01.contoso.int")
HOST_HV01 = Address("host.state", "contoso-west", "HV01.contoso.int")
STORAGE = Address("azure.storage_account", "acmecorp", "drstorageacct1")


def _no_sleep(_seconds: float) -> None:
    pass


@dataclasses.dataclass
class Recorder(Faults):
    """Faults that also log every round trip (operation, address) and can run a hook before it."""

    calls: list[tuple[str, Address | None]] = dataclasses.field(default_factory=list)
    before: Callable[[str, Address | None], None] | None = None

    def round_trip(self, what: str, address: Address | None = None) -> None:
        self.calls.append((what, address))
        if self.before is not None:
            self.before(what, address)
        super().round_trip(what, address)

    def operations(self, address: Address) -> list[str]:
        return [what for what, a in self.calls if a == address]


@pytest.fixture(scope="module")
def resources() -> list[Resource]:
    loaded = load_paths([SPECS])
    assert loaded.ok
    return expand.expand(loaded.specs)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "estate.db"
    seed.init_estate(path)
    return path


@pytest.fixture
def provider(db: Path) -> Iterator[EmbeddedProvider]:
    p = EmbeddedProvider(EstateStore(db), Faults())
    yield p
    p.close()


def _providers(p: EmbeddedProvider) -> routing.Router:
    return routing.only(p)


def _plan(p: EmbeddedProvider, resources: Sequence[Resource]) -> Plan:
    observed = refresh.read_all(resources, _providers(p), sleep=_no_sleep)
    return planner.make_plan(resources, observed, created_at="2025-01-01T00:00:00+00:00")


def _apply(p: EmbeddedProvider, plan: Plan, resources: Sequence[Resource]) -> applier.ApplyReport:
    return applier.apply_plan(
        plan, applier.resources_by_address(resources), _providers(p), sleep=_no_sleep, allow_disruption=True
    )


def _resource(resources: Sequence[Resource], address: Address) -> Resource:
    (r,) = [r for r in resources if r.address == address]
    return r


def _apply_one(p: EmbeddedProvider, resource: Resource) -> None:
    """Plan and apply one resource as the applier's step does (re-read, re-plan, act)."""
    change = planner.plan_one(resource, p.read([resource]).get(resource.address))
    assert change.is_change, change
    p.apply(change, resource)


def _row(p: EmbeddedProvider, address: Address) -> Row:
    row = p.store.get(address)
    assert row is not None, address
    return row


def _set_power(p: EmbeddedProvider, address: Address, state: str) -> None:
    row = _row(p, address)
    row.status = {**row.status, "powerState": state}
    p.store.put(row)


# --- bulk reads --------------------------------------------------------------------------------------


def test_refresh_is_one_round_trip_per_read_scope(provider: EmbeddedProvider, resources: list[Resource]) -> None:
    recorder = Recorder()
    provider.faults = recorder
    observed = refresh.read_all(resources, _providers(provider))
    groups = refresh.groups(resources, _providers(provider))
    assert set(observed) >= {r.address for r in resources}
    assert recorder.round_trips == len(groups)
    assert len(groups) < len(resources)
    listed = {kind for what, _ in recorder.calls for kind in what.removeprefix("list ").split(", ")}
    assert listed >= {r.kind for r in resources}
    # A VMM family is one call: its kinds share a round trip, as one run of its read script answers them.
    assert "list vmm.ip_pool, vmm.logical_network, vmm.network_site" in {what for what, _ in recorder.calls}
    # What exists reads back; what does not reads as None.
    assert observed[VM01] is not None
    assert observed[Address("vmm.logical_network", "contoso-west", "Provider Address")] is None


# --- the real systems' rules -------------------------------------------------------------------------


def test_a_policy_association_without_its_policy_is_refused(
    provider: EmbeddedProvider, resources: list[Resource]
) -> None:
    association = _resource(resources, Address("asr.policy_association", "acmecorp", "AcmeCorp Cloud"))
    with pytest.raises(PermanentError, match=r"asr\.replication_policy:acmecorp/AcmeCorp-Policy does not exist") as e:
        _apply_one(provider, association)
    assert e.value.code == "DependencyMissing"
    assert provider.store.get(association.address) is None


def test_a_protected_item_without_the_network_mapping_is_refused(
    provider: EmbeddedProvider, resources: list[Resource]
) -> None:
    # Everything else first (excluding the mappings also leaves out the protected items that need them).
    chosen = selection.select(resources, excludes=["asr.network_mapping"])
    assert not any(r.kind == "asr.protected_item" for r in chosen)
    assert _apply(provider, _plan(provider, chosen), chosen).ok
    item = _resource(resources, Address("asr.protected_item", "acmecorp", "VM01"))
    with pytest.raises(PermanentError, match="no network mapping to 'YellowNetwork'") as e:
        _apply_one(provider, item)
    assert e.value.code == "NetworkMappingNotFound"
    assert provider.store.get(item.address) is None


def test_a_storage_account_outside_the_vault_region_is_refused(
    provider: EmbeddedProvider, resources: list[Resource]
) -> None:
    _apply_one(provider, _resource(resources, Address("azure.resource_group", "acmecorp", "AcmeCorpRecoveryGroup")))
    storage = _resource(resources, STORAGE)
    elsewhere = dataclasses.replace(storage, desired={**storage.desired, "location": "eastus"})
    with pytest.raises(PermanentError, match="must be in the vault's region") as e:
        _apply_one(provider, elsewhere)
    assert e.value.code == "InvalidStorageAccountRegion"
    assert provider.store.get(STORAGE) is None
    _apply_one(provider, storage)  # in the vault's region (westus) it is created
    assert _row(provider, STORAGE).data["location"] == "westus"


def test_set_vm_memory_is_refused_on_a_running_vm_when_the_change_needs_it_off() -> None:
    why = "startup changes only with the VM off"
    with pytest.raises(PreconditionError, match="Set-VMMemory refused on running VM 'VM01'") as e:
        rules.require_off({"powerState": "Running"}, "VM01", why)
    assert e.value.code == "VMRunning"
    assert why in str(e.value)
    rules.require_off({"powerState": "Off"}, "VM01", why)
    rules.require_off({}, "VM01", why)


def test_the_provider_stops_and_restarts_a_running_vm_around_a_memory_change(
    provider: EmbeddedProvider, resources: list[Resource]
) -> None:
    vm02 = _resource(resources, VM02)  # running; dynamic -> static and a higher startup need it off
    change = planner.plan_one(vm02, provider.read([vm02])[VM02])
    assert change.disruptive
    power_at: dict[str, str] = {}

    def watch(what: str, address: Address | None) -> None:
        if address == VM02:
            power_at[what] = _row(provider, VM02).status["powerState"]

    recorder = Recorder(before=watch)
    provider.faults = recorder
    provider.apply(change, vm02)
    assert recorder.operations(VM02) == ["Stop-VM", "Set-VMMemory", "Start-VM"]
    assert power_at["Set-VMMemory"] == "Off"
    row = _row(provider, VM02)
    assert row.status["powerState"] == "Running"
    assert {k: row.data[k] for k in vm02.desired} == vm02.desired


def test_a_vm_started_behind_the_tools_back_is_refused_at_set_vm_memory(
    provider: EmbeddedProvider, resources: list[Resource]
) -> None:
    vm02 = _resource(resources, VM02)
    before = dict(_row(provider, VM02).data)
    change = planner.plan_one(vm02, provider.read([vm02])[VM02])

    def restart_behind_our_back(what: str, address: Address | None) -> None:
        if what == "Set-VMMemory":
            _set_power(provider, VM02, "Running")

    recorder = Recorder(before=restart_behind_our_back)
    provider.faults = recorder
    with pytest.raises(PreconditionError, match="Set-VMMemory refused on running VM 'VM02'"):
        provider.apply(change, vm02)
    assert _row(provider, VM02).data == before  # nothing half applied
    assert recorder.operations(VM02)[-1] == "Start-VM"  # the VM the tool stopped is started again
    assert _row(provider, VM02).status["powerState"] == "Running"


def test_a_memory_change_that_runs_live_or_on_a_stopped_vm_does_not_power_cycle(
    provider: EmbeddedProvider, resources: list[Resource]
) -> None:
    recorder = Recorder()
    provider.faults = recorder
    # VM01 needs its startup raised; pretend it already was: a new buffer alone changes live.
    vm01 = _resource(resources, VM01)
    row = _row(provider, VM01)
    row.data = {**row.data, **vm01.desired}
    provider.store.put(row)
    live = dataclasses.replace(vm01, desired={**vm01.desired, "bufferPercent": 40})
    change = planner.plan_one(live, provider.read([live])[VM01])
    assert change.action is Action.UPDATE
    assert not change.disruptive
    provider.apply(change, live)
    assert recorder.operations(VM01) == ["Set-VMMemory"]
    assert _row(provider, VM01).status["powerState"] == "Running"
    # FAB-SQL01 is off: no Stop-VM/Start-VM, and it stays off.
    sql = _resource(resources, FAB_SQL01)
    _apply_one(provider, sql)
    assert "Stop-VM" not in recorder.operations(FAB_SQL01)
    assert "Start-VM" not in recorder.operations(FAB_SQL01)
    assert _row(provider, FAB_SQL01).status["powerState"] == "Off"


def _reboot(provider: EmbeddedProvider, bios: Resource) -> None:
    """Plan a BIOS change and carry it out as apply does: through the engine's host procedure."""
    change = planner.plan_one(bios, provider.read([bios]).get(bios.address))
    assert change.is_change, change
    procedure = host_reboot.HostReboot(
        router=routing.only(provider), journal=MemoryJournal(), run_id="t", clock=lambda: "2026-01-01T00:00:00"
    )
    assert procedure.run(change, bios, allowed=True, progress=lambda _m: None) is None


def test_a_bios_change_is_staged_in_maintenance_and_applied_by_the_reset(
    provider: EmbeddedProvider, resources: list[Resource]
) -> None:
    bios = _resource(resources, BIOS_HV01)
    wanted = bios.desired["attributes"]
    assert wanted["SysProfile"] == "PerfOptimized"
    # The host cannot enter maintenance mode: nothing is staged, nothing is applied.
    provider.faults = Faults(permanent=frozenset({str(HOST_HV01)}))
    with pytest.raises(PermanentError, match="Enter maintenance mode"):
        _reboot(provider, bios)
    row = _row(provider, BIOS_HV01)
    assert not row.status.get("pending")
    assert row.data["attributes"]["SysProfile"] == "PerfPerWattOptimizedDapc"
    assert _row(provider, HOST_HV01).status["maintenance"] is False
    assert planner.plan_one(bios, provider.read([bios])[BIOS_HV01]).action is Action.UPDATE

    in_maintenance: dict[str, bool] = {}

    def watch(what: str, address: Address | None) -> None:
        in_maintenance[what] = bool(_row(provider, HOST_HV01).status.get("maintenance"))

    recorder = Recorder(before=watch)
    provider.faults = recorder
    _reboot(provider, bios)
    # Between the reset and leaving maintenance, the host's state is read until it is back.
    assert [what for what, _ in recorder.calls if not what.startswith("list ")] == [
        "Enter maintenance mode",
        "PATCH Bios/Settings",
        "ComputerSystem.Reset",
        "Exit maintenance mode",
    ]
    at = [what for what, _ in recorder.calls].index("ComputerSystem.Reset")
    polls = [what for what, _ in recorder.calls[at:]].count("list host.state")
    assert polls == recorder.job_polls + 1  # back on the last read
    assert in_maintenance["ComputerSystem.Reset"] is True
    row = _row(provider, BIOS_HV01)
    assert row.data["attributes"]["SysProfile"] == "PerfOptimized"
    assert not row.status.get("pending")
    assert _row(provider, HOST_HV01).status["maintenance"] is False


def test_a_host_an_operator_put_in_maintenance_stays_there(
    provider: EmbeddedProvider, resources: list[Resource]
) -> None:
    host = _row(provider, HOST_HV01)
    host.status = {**host.status, "maintenance": True}
    provider.store.put(host)
    recorder = Recorder()
    provider.faults = recorder
    _reboot(provider, _resource(resources, BIOS_HV01))
    assert "Enter maintenance mode" not in [w for w, _ in recorder.calls]
    assert "Exit maintenance mode" not in [w for w, _ in recorder.calls]
    assert _row(provider, BIOS_HV01).data["attributes"]["SysProfile"] == "PerfOptimized"
    assert _row(provider, HOST_HV01).status["maintenance"] is True


def test_a_reboot_without_maintenance_mode_is_refused() -> None:
    with pytest.raises(PreconditionError, match=r"'HV01\.contoso\.int' must be in maintenance mode") as e:
        rules.require_maintenance({"maintenance": False, "powerState": "Running"}, "HV01.contoso.int")
    assert e.value.code == "NotInMaintenance"
    with pytest.raises(PreconditionError):
        rules.require_maintenance({}, "HV01.contoso.int")
    rules.require_maintenance({"maintenance": True}, "HV01.contoso.int")


# --- latency and faults ------------------------------------------------------------------------------


def test_faults_from_the_environment() -> None:
    default = Faults.from_env({})
    assert (default.latency_s, default.rate, default.permanent, default.seed) == (0.0, 0.0, frozenset(), None)
    faults = Faults.from_env(
        {
            "RECONCILER_EMBEDDED_LATENCY_MS": "25",
            "RECONCILER_EMBEDDED_FAULT_RATE": "0.25",
            "RECONCILER_EMBEDDED_FAULT_ADDRESSES": f" {STORAGE} , bmc.bios ,",
            "RECONCILER_EMBEDDED_FAULT_SEED": "42",
        }
    )
    assert faults.latency_s == pytest.approx(0.025)
    assert faults.rate == 0.25
    assert faults.permanent == frozenset({str(STORAGE), "bmc.bios"})
    assert faults.seed == 42

    quiet = dataclasses.replace(faults, rate=0.0)
    started = time.monotonic()
    quiet.round_trip("list vmm.cloud")
    assert time.monotonic() - started >= 0.02
    assert quiet.round_trips == 1
    with pytest.raises(PermanentError, match="injected permanent fault"):
        quiet.round_trip("create", STORAGE)
    with pytest.raises(PermanentError):
        quiet.round_trip("update", BIOS_HV01)  # a kind selects every object of the kind
    quiet.round_trip("update", VM01)


def test_seeded_temporary_faults_are_repeatable() -> None:
    def outcomes(faults: Faults) -> list[bool]:
        out = []
        for _ in range(200):
            try:
                faults.round_trip("list vmm.cloud")
                out.append(True)
            except TemporaryError as exc:
                assert exc.retry_after
                out.append(False)
        return out

    first = outcomes(Faults.from_env({"RECONCILER_EMBEDDED_FAULT_RATE": "0.1", "RECONCILER_EMBEDDED_FAULT_SEED": "7"}))
    second = outcomes(Faults(rate=0.1, seed=7))
    assert first == second
    assert 0 < first.count(False) < 60


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RECONCILER_EMBEDDED_LATENCY_MS", "slow"),
        ("RECONCILER_EMBEDDED_LATENCY_MS", "-5"),
        ("RECONCILER_EMBEDDED_LATENCY_MS", "inf"),
        ("RECONCILER_EMBEDDED_FAULT_RATE", "often"),
        ("RECONCILER_EMBEDDED_FAULT_RATE", "1.5"),
        ("RECONCILER_EMBEDDED_FAULT_RATE", "nan"),
        ("RECONCILER_EMBEDDED_FAULT_SEED", "lucky"),
    ],
)
def test_a_bad_fault_setting_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Faults.from_env({name: value})


def test_a_permanent_fault_fails_one_resource_skips_its_dependents_and_the_rest_is_done(
    provider: EmbeddedProvider, resources: list[Resource]
) -> None:
    provider.faults = Faults(permanent=frozenset({str(STORAGE)}))
    plan = _plan(provider, resources)  # a permanent fault refuses operations, not the bulk reads
    report = _apply(provider, plan, resources)
    assert not report.ok
    status = {r.address: r for r in report.results}
    assert set(status) == {c.address for c in plan.pending}
    assert status[STORAGE].status == applier.StepStatus.FAILED
    assert status[STORAGE].message == f"create {STORAGE}: injected permanent fault"
    assert status[STORAGE].attempts == 1  # permanent: not retried
    dependents = Graph(plan.pending).downstream([STORAGE])
    assert {
        Address("asr.replication_policy", "acmecorp", "AcmeCorp-Policy"),
        Address("asr.policy_association", "acmecorp", "AcmeCorp Cloud"),
        Address("asr.protected_item", "acmecorp", "VM01"),
    } <= dependents
    assert {r.address for r in report.by_status(applier.StepStatus.SKIPPED)} == dependents
    assert {r.address for r in report.by_status(applier.StepStatus.FAILED)} == {STORAGE}
    done = {r.address for r in report.by_status(applier.StepStatus.DONE)}
    assert done == {c.address for c in plan.pending} - dependents - {STORAGE}
    assert Address("azure.storage_account", "fabrikam", "fabrikamdrstore01") in done
    assert Address("azure.virtual_network", "acmecorp", "YellowNetwork") in done
    assert Address("asr.protected_item", "fabrikam", "FAB-WEB01") in done

    # The cause fixed, a rerun finishes the job and only what was left.
    provider.faults = Faults()
    rerun = _plan(provider, resources)
    assert {c.address for c in rerun.pending} == dependents | {STORAGE}
    assert _apply(provider, rerun, resources).ok
    assert not _plan(provider, resources).pending


def test_temporary_faults_are_retried_and_only_an_unconfirmed_reboot_waits_for_the_next_run(
    provider: EmbeddedProvider, resources: list[Resource]
) -> None:
    provider.faults = Faults(rate=0.1, seed=7)
    plan = _plan(provider, resources)  # the bulk reads are retried too
    journal = MemoryJournal()
    # Which round trip draws a fault depends on thread timing, so the outcome is random even when seeded.
    # Every step retries its temporary faults and converges, but for one: a host whose restart could not be
    # confirmed (a poll failed) stays in maintenance and stops its rollout, for the next run to finish.
    report = applier.apply_plan(
        plan,
        applier.resources_by_address(resources),
        _providers(provider),
        attempts=10,
        sleep=_no_sleep,
        allow_disruption=True,
        journal=journal,
    )
    for r in report.results:
        if r.status == applier.StepStatus.FAILED:
            assert r.address.kind == "bmc.bios" and "stays in maintenance" in r.message, r
        elif r.status == applier.StepStatus.SKIPPED:
            assert r.address.kind == "bmc.bios" and r.message.startswith("rollout stopped"), r
        else:
            assert r.status in (applier.StepStatus.DONE, applier.StepStatus.ALREADY), r
    assert max(r.attempts for r in report.results) > 1
    provider.faults = Faults()
    notes = {r.address: r.note() for r in journal.unfinished()}  # as the CLI reads them from the store
    rerun = planner.make_plan(
        resources, refresh.read_all(resources, _providers(provider)), created_at="", unfinished=notes
    )
    assert applier.apply_plan(
        rerun, applier.resources_by_address(resources), _providers(provider), allow_disruption=True, journal=journal
    ).ok
    assert not _plan(provider, resources).pending
    assert not journal.unfinished()
    # The procedures interrupted by faults still put things back.
    power = {r.address.name: r.status["powerState"] for r in provider.store.list("hyperv.vm_memory")}
    assert power == {"VM01": "Running", "VM02": "Running", "FAB-WEB01": "Running", "FAB-SQL01": "Off"}
    assert not any(r.status["maintenance"] for r in provider.store.list("host.state"))


def test_a_start_vm_that_keeps_failing_is_reported_not_hidden(
    provider: EmbeddedProvider, resources: list[Resource]
) -> None:
    vm02 = _resource(resources, VM02)
    change = planner.plan_one(vm02, provider.read([vm02])[VM02])

    def busy(what: str, address: Address | None) -> None:
        if what == "Start-VM":
            raise TemporaryError("Start-VM: host busy", retry_after=0.001)

    provider.faults = Recorder(before=busy)
    with pytest.raises(PermanentError, match=r"Start-VM .* failed after") as e:
        provider.apply(change, vm02)
    assert e.value.code == "RestoreFailed"


# --- idempotence and persistence ---------------------------------------------------------------------


def test_applying_the_same_plan_twice_finds_everything_already_converged(
    provider: EmbeddedProvider, resources: list[Resource]
) -> None:
    plan = _plan(provider, resources)
    first = _apply(provider, plan, resources)
    assert first.ok
    assert {r.status for r in first.results} == {applier.StepStatus.DONE}
    versions = {r.address: r.version for r in provider.store.all()}
    second = _apply(provider, plan, resources)
    assert len(second.results) == len(plan.pending)
    assert {r.status for r in second.results} == {applier.StepStatus.ALREADY}
    assert {r.address: r.version for r in provider.store.all()} == versions  # not even rewritten


def test_the_estate_survives_reopening_and_init_resets_it(db: Path, resources: list[Resource]) -> None:
    first = EmbeddedProvider(EstateStore(db))
    initial = _plan(first, resources)
    assert _apply(first, initial, resources).ok
    first.close()

    reopened = EmbeddedProvider(EstateStore(db))
    try:
        assert not _plan(reopened, resources).pending
        cloud = _row(reopened, Address("vmm.cloud", "acmecorp", "acmecorp cloud"))  # names match case-insensitively
        assert cloud.address.name == "AcmeCorp Cloud"
        assert cloud.version > 1
        assert _row(reopened, Address("vmm.logical_network", "contoso-west", "Provider Address")).owned
    finally:
        reopened.close()

    count = seed.init_estate(db)
    assert count == len(seed.read_estate_file(seed.default_estate_file()))
    reset = EmbeddedProvider(EstateStore(db))
    try:
        assert len(reset.store.all()) == count
        assert reset.store.meta("source") == str(seed.default_estate_file())
        again = _plan(reset, resources)
        assert [(c.address, c.action) for c in again.changes] == [(c.address, c.action) for c in initial.changes]
        assert reset.store.get(Address("vmm.logical_network", "contoso-west", "Provider Address")) is None
        # Every object is back to what the file says, none owned; versions keep rising across a reset
        # (a plan saved before it must see every object as changed).
        rows = reset.store.all()
        assert not any(r.owned for r in rows)
        assert len({r.version for r in rows}) == 1 and rows[0].version > cloud.version
    finally:
        reset.close()


def test_a_duplicate_object_in_an_estate_file_is_refused(tmp_path: Path) -> None:
    path = FIXTURES / "duplicate-estate.yaml"
    with pytest.raises(seed.EstateFileError) as e:
        seed.read_estate_file(path)
    (diagnostic,) = e.value.diagnostics
    assert diagnostic.code == "estate.duplicate"
    assert diagnostic.location.file == str(path)
    assert diagnostic.location.line == 7
    assert "listed twice" in diagnostic.message
    db = tmp_path / "estate.db"
    with pytest.raises(seed.EstateFileError):
        seed.init_estate(db, path)
    assert not db.exists()
