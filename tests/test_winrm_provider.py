"""The WinRM provider end to end: the CLI plans and applies the example specs with the VMM and Hyper-V kinds
served over WinRM by the test endpoint (``tests/winrm_endpoint.py`` with the VMM/Hyper-V emulator,
``tests/vmm_emulator.py``: pywinrm, the shipped scripts and the data contract for real), the Azure kinds by the
Azure fake (``tests/azure_fake.py``) and the BMCs by the embedded estate.

Covered: convergence (plan, apply, plan again: no changes) with the NVGRE chain in VMM's order, report-maximum-at-
boot through WMI on the VM's host, VMs stopped and started around changes that need them off, the BIOS rollout's
maintenance through VMM; bulk reads (one script per kind family per VMM server); a failed VMM job naming its error,
dependents skipped, a rerun converging; ownership (markers written on what the tool creates, clouds made by Azure
Pack left unmarked, prune deleting only what the tool owns); drift and a stale saved plan; the dispatcher's table;
import listing the VMM side over WinRM, then a plan with no changes."""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.providers.winrm import marker
from reconciler.providers.winrm.context import WinRMContext
from reconciler.providers.winrm.provider import KINDS, WinRMProvider
from reconciler.providers.winrm.settings import WinRMSettings
from tests import winrm_estate
from tests.azure_env import environment as azure_environment
from tests.azure_env import seed_vault
from tests.azure_fake import FakeAzure
from tests.helpers import (
    EMBEDDED_ENV,
    assert_one_handler_per_kind,
    copy_specs,
    edit_text,
    init_estate,
    isolate,
    out,
    plan_json,
    run,
)
from tests.import_seed import SEED as IMPORT_SEED
from tests.vmm_emulator import VmmEmulator
from tests.winrm_endpoint import WinRMEndpoint

VMM = "vmm01.contoso.int"
FAMILY_SCRIPTS = {"vmm_networks", "vmm_ports", "vmm_switches", "vmm_vm_networks", "vmm_clouds", "vmm_vms"}


@pytest.fixture
def vmm() -> VmmEmulator:
    return VmmEmulator.contoso_west()


@pytest.fixture
def endpoint(tmp_path: Path, vmm: VmmEmulator) -> Iterator[WinRMEndpoint]:
    with winrm_estate.start(tmp_path / "winrm", vmm) as server:
        yield server


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: WinRMEndpoint) -> WinRMEndpoint:
    """Run in tmp_path with the VMM and Hyper-V kinds on the endpoint; everything else embedded."""
    isolate(tmp_path, monkeypatch, unset=EMBEDDED_ENV, estate="estate.db", audit_log="audit.jsonl")
    winrm_estate.resolve_to_localhost(monkeypatch)
    for name, value in winrm_estate.environment(endpoint).items():
        monkeypatch.setenv(name, value)
    init_estate(tmp_path / "estate.db")
    return endpoint


@pytest.fixture
def with_azure(fake: FakeAzure, monkeypatch: pytest.MonkeyPatch) -> FakeAzure:
    """The Azure kinds on the Azure fake too (``tests/azure_env.py``, as the Azure provider's tests switch them on)."""
    seed_vault(fake)
    for name, value in azure_environment(fake).items():
        monkeypatch.setenv(name, value)
    return fake


def _apply(specs: Path, *extra: str) -> str:
    result = run("apply", specs, "--yes", "--allow-disruption", *extra)
    text = out(result)
    assert result.exit_code == 0, text
    return text


def _changes(specs: Path, *extra: str) -> dict[str, str]:
    return {
        c["address"]: c["action"]
        for c in plan_json(specs, Path("estate.db"), *extra)["changes"]
        if c["action"] != "noop"
    }


def _scripts(endpoint: WinRMEndpoint, since: int = 0) -> list[tuple[str, str, object]]:
    return winrm_estate.scripts_run(endpoint, since=since)


def test_each_winrm_kind_has_exactly_one_handler() -> None:
    env = {
        "RECONCILER_WINRM": "on",
        "RECONCILER_WINRM_USER": "svc",
        "RECONCILER_WINRM_PASSWORD": secrets.token_urlsafe(),
    }
    settings = WinRMSettings.from_env(env)
    assert settings is not None
    with WinRMProvider(settings, WinRMContext()) as provider:
        assert provider.kinds == KINDS
        assert_one_handler_per_kind(provider, foreign="asr.vault")


def test_plan_apply_converges_over_winrm_with_azure_on_the_fake(
    estate: WinRMEndpoint, with_azure: FakeAzure, vmm: VmmEmulator, tmp_path: Path
) -> None:
    specs = copy_specs(tmp_path)
    before = _changes(specs)
    vmm_creates = {a.split(":")[0] for a, action in before.items() if action == "create" and a.startswith("vmm.")}
    assert vmm_creates == {
        "vmm.logical_network",
        "vmm.network_site",
        "vmm.ip_pool",
        "vmm.uplink_port_profile",
        "vmm.port_classification",
        "vmm.logical_switch",
        "vmm.host_switch",
        "vmm.vm_network",
    }
    assert before["vmm.cloud:acmecorp/AcmeCorp Cloud"] == "update"  # made by Azure Pack: updated, not created
    assert before["host.power_policy:contoso-west/HV01.contoso.int"] == "update"

    text = _apply(specs)
    assert "Apply complete" in text and " 0 failed" in text
    again = run("plan", specs, "--detailed-exitcode")
    assert again.exit_code == 0, out(again)
    assert "No changes" in out(again)

    # The NVGRE chain, in VMM, with the tool's marker where VMM has a Description.
    network = vmm.state.find("logicalNetwork", name="Provider Address")
    assert network is not None and network["NetworkVirtualizationEnabled"] is True
    assert marker.parse(network["Description"]).owned
    switch = vmm.state.find("switch", name="Tenant-Switch")
    assert switch is not None and len(vmm.state.all("virtualNetwork")) == 3  # on HV01-HV03
    # The clouds Azure Pack made got their logical network and quotas, and stay someone else's.
    cloud = vmm.state.find("cloud", name="AcmeCorp Cloud")
    assert cloud is not None and cloud["LogicalNetworks"] == [network["ID"]] and cloud["capacity"]["VMCount"] == 20
    assert not marker.parse(cloud["Description"]).owned
    # Report-maximum-at-boot: VM01 boots at 2 GB with a 512 MB reservation, through WMI on its host; running again.
    vm01 = vmm.vm("VM01")
    assert vm01["wmi"]["VirtualQuantity"] == 2048 and vm01["wmi"]["Reservation"] == 512
    assert (vm01["Memory"], vm01["DynamicMemoryMinimumMB"]) == (2048, 512)
    assert all(vm["VirtualMachineState"] == "Running" or vm["Name"] == "FAB-SQL01" for vm in vmm.state.all("vm"))
    assert not any(vm["resume"] for vm in vmm.state.all("vm"))
    # Each host was in maintenance (through VMM) for its BIOS reboot, and is out of it; power plans set on the hosts.
    maintenance = [d for m, s, d in _scripts(estate) if s == "vmm_hosts" and isinstance(d, dict) and "on" in d]
    assert [d["on"] for d in maintenance] == [True, False] * 3
    assert not any(h["MaintenanceHost"] for h in vmm.state.all("host"))
    assert {h["scheme"] for h in vmm.state.all("host")} == {"8c5e7fda-e8bf-4a96-9a85-a6e23a8c635c"}
    # Every value of the specs went out as data: none is in any script text that was sent.
    assert winrm_estate.leaks(estate, winrm_estate.spec_values(specs)) == []


def test_a_plan_runs_one_script_per_kind_family_per_vmm_server(estate: WinRMEndpoint, tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    _apply(specs)
    since = len(estate.calls)
    result = run("plan", specs, "--detailed-exitcode")
    assert result.exit_code == 0, out(result)
    ran = Counter((machine, script) for machine, script, _ in _scripts(estate, since))
    assert ran == Counter(
        {(VMM, s): 1 for s in FAMILY_SCRIPTS} | {(f"hv0{n}.contoso.int", "host_power"): 1 for n in (1, 2, 3)}
    ), ran
    reads = [d for _, s, d in _scripts(estate, since) if s in FAMILY_SCRIPTS]
    assert all(isinstance(d, dict) and d["operation"] == "read" and d["names"] is None for d in reads)


def test_a_failed_vmm_job_names_its_error_skips_dependents_and_a_rerun_converges(
    estate: WinRMEndpoint, vmm: VmmEmulator, tmp_path: Path
) -> None:
    specs = copy_specs(tmp_path)
    vmm.fail_next(
        "Create logical network definition",
        code="13661",
        problem="The subnet 10.10.0.0/24 overlaps a subnet of another network site.",
        action="Remove the overlap and try again.",
    )
    result = run("apply", specs, "--yes", "--allow-disruption")
    text = out(result)
    assert result.exit_code == 1, text
    assert "13661" in text and "overlaps a subnet" in text and "Remove the overlap" in text
    assert "create vmm.ip_pool:contoso-west/PA-Pool: skipped" in text  # the pool needs the site
    assert vmm.state.find("networkSite", name="PA-West") is None
    _apply(specs)
    assert run("plan", specs, "--detailed-exitcode").exit_code == 0


def test_a_vm_is_marked_before_it_is_stopped_and_a_left_mark_is_resumed(
    estate: WinRMEndpoint, vmm: VmmEmulator, tmp_path: Path
) -> None:
    specs = copy_specs(tmp_path)
    since = len(estate.calls)
    _apply(specs, "--target", "hyperv.vm_memory:acmecorp/VM02")
    steps = [
        (d["operation"], d.get("resume"))
        for _, s, d in _scripts(estate, since)
        if s == "vmm_vms" and isinstance(d, dict) and d["operation"] != "read"
    ]
    assert steps == [("mark", "Start-VM"), ("stop", None), ("set_memory", None), ("start", None), ("mark", "")]
    vm02 = vmm.vm("VM02")
    assert (vm02["DynamicMemoryEnabled"], vm02["Memory"], vm02["VirtualMachineState"]) == (False, 4096, "Running")

    # A run killed after the stop: the VM is off with its mark; the next plan resumes it and apply starts it.
    vm02.update(VirtualMachineState="PowerOff", resume="Start-VM")
    document = plan_json(specs, Path("estate.db"), "--target", "hyperv.vm_memory:acmecorp/VM02")
    change = next(c for c in document["changes"] if c["address"] == "hyperv.vm_memory:acmecorp/VM02")
    assert change["action"] == "update" and change["actionReason"] == "resume", change
    _apply(specs, "--target", "hyperv.vm_memory:acmecorp/VM02")
    assert vm02["VirtualMachineState"] == "Running" and vm02["resume"] is None
    assert run("plan", specs, "--detailed-exitcode", "--target", "hyperv.vm_memory:acmecorp/VM02").exit_code == 0


def test_prune_deletes_only_what_the_tool_owns(estate: WinRMEndpoint, vmm: VmmEmulator, tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    site = specs / "sites" / "contoso-west.yaml"
    edit_text(site, "      routerGuard: true\n", "      routerGuard: true\n      lifecycle: {prune: true}\n")
    edit_text(
        site,
        "  portClassifications:\n",
        "  portClassifications:\n    - name: Lab-Open\n      lifecycle: {prune: true}\n",
    )
    _apply(specs)
    vmm.state.add("classification", {"Name": "Made-By-Hand", "Description": "the network team's"})
    edit_text(site, "    - name: Lab-Open\n      lifecycle: {prune: true}\n", "")
    kept = _changes(specs)
    assert "vmm.port_classification:contoso-west/Lab-Open" not in kept  # no delete without --prune
    assert _changes(specs, "--prune")["vmm.port_classification:contoso-west/Lab-Open"] == "delete"
    _apply(specs, "--prune")
    assert vmm.state.find("classification", name="Lab-Open") is None
    assert vmm.state.find("portProfile", name="Lab-Open") is None
    assert vmm.state.find("classification", name="Made-By-Hand") is not None  # never the tool's: never reported
    assert run("plan", specs, "--detailed-exitcode", "--prune").exit_code == 0


def test_adopting_a_cloud_azure_pack_made_marks_it_and_changes_nothing_else(
    estate: WinRMEndpoint, vmm: VmmEmulator, tmp_path: Path
) -> None:
    specs = copy_specs(tmp_path)
    tenant = specs / "tenants" / "acmecorp.yaml"
    edit_text(
        tenant,
        "    capacity: {vms: 20, vcpus: 64, memoryGb: 256}\n",
        "    capacity: {vms: 20, vcpus: 64, memoryGb: 256}\n    lifecycle: {adopt: true}\n",
    )
    cloud = vmm.state.find("cloud", name="AcmeCorp Cloud")
    assert cloud is not None
    cloud["Description"] = "Made by Azure Pack for AcmeCorp"
    target = "vmm.cloud:acmecorp/AcmeCorp Cloud"
    assert _changes(specs, "--target", target)[target] == "adopt"
    _apply(specs, "--target", target)
    parsed = marker.parse(cloud["Description"])
    assert parsed.owned and parsed.text == "Made by Azure Pack for AcmeCorp"
    assert cloud["LogicalNetworks"] == []  # adopted as it is: the next plan, the cloud now the tool's, updates it
    assert _changes(specs, "--target", target)[target] == "update"
    _apply(specs)
    assert run("plan", specs, "--detailed-exitcode").exit_code == 0
    assert marker.parse(cloud["Description"]).owned


def test_drift_names_a_change_made_in_vmm_and_a_stale_saved_plan_is_refused(
    estate: WinRMEndpoint, vmm: VmmEmulator, tmp_path: Path
) -> None:
    specs = copy_specs(tmp_path)
    _apply(specs)
    uplink = vmm.state.find("uplink", name="PA-Uplink")
    assert uplink is not None
    uplink["LBFOTeamMode"] = "Lacp"  # someone changed it in the console
    drift = run("drift", specs, "--format", "json")
    assert drift.exit_code == 2, out(drift)
    assert '"teamingMode"' in drift.stdout
    saved = run("plan", specs, "-o", "plan.json")
    assert saved.exit_code == 0, out(saved)
    uplink["LBFOLoadBalancingAlgorithm"] = "Dynamic"
    refused = run("apply", "plan.json", "--yes")
    assert refused.exit_code == 1, out(refused)
    assert "The live state changed since plan.json was made" in out(refused)
    _apply(specs)
    assert uplink["LBFOTeamMode"] == "SwitchIndependent" and uplink["LBFOLoadBalancingAlgorithm"] == "HyperVPort"
    assert run("drift", specs).exit_code == 0


def test_a_refused_sign_in_and_a_dead_endpoint_are_one_clear_line(
    estate: WinRMEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = copy_specs(tmp_path)
    wrong = "not-" + estate.users["CONTOSO\\svc-reconciler"]
    monkeypatch.setenv("RECONCILER_WINRM_PASSWORD", wrong)
    result = run("plan", specs)
    text = out(result)
    assert result.exit_code == 1, text
    assert "VMM01.contoso.int: the WinRM endpoint https://VMM01.contoso.int:" in text
    assert "refused the credentials (HTTP 401" in text and "RECONCILER_WINRM_USER and RECONCILER_WINRM_PASSWORD" in text
    assert wrong not in text and len([line for line in text.splitlines() if "HTTP 401" in line]) == 1

    monkeypatch.setenv("RECONCILER_WINRM_PASSWORD", estate.users["CONTOSO\\svc-reconciler"])
    estate.stop()  # nothing listens any more: connection refused
    result = run("plan", specs)
    text = out(result)
    assert result.exit_code == 1, text
    # The reads run in parallel: whichever endpoint failed first (the VMM server, a Hyper-V host) is the one named.
    failed = re.search(
        r"reading the live state failed: (?P<host>(?:VMM01|HV0\d)\.contoso\.int): run \w+: cannot connect to "
        r"https://(?P=host):\d+/wsman \(Connection refused\): is the WinRM listener up",
        text,
    )
    assert failed is not None, text
    assert "Traceback" not in text and len(text.strip().splitlines()) == 1


def test_import_over_winrm_then_plan_finds_no_changes(
    estate: WinRMEndpoint, with_azure: FakeAzure, tmp_path: Path
) -> None:
    """``reconciler import`` lists the VMM side through the WinRM provider (its family scripts, and each Hyper-V
    host's power plan), the Azure side on the fake: the specs it writes plan no change."""
    _apply(copy_specs(tmp_path))
    since = len(_scripts(estate))
    seed = tmp_path / "seed.yaml"
    # VMM does not say which tenant a cloud serves (Azure Pack's plans do): the seed names each tenant's cloud.
    text = IMPORT_SEED
    for tenant, cloud in (("acmecorp", "AcmeCorp Cloud"), ("fabrikam", "Fabrikam Cloud")):
        place = f"    - name: {tenant}\n      site: contoso-west\n"
        assert place in text
        text = text.replace(place, f"{place}      cloud: {cloud}\n")
    seed.write_text(text, encoding="utf-8")
    imported = tmp_path / "imported"
    result = run("import", "--seed", seed, "--out", imported)
    assert result.exit_code == 0, out(result)
    ran = {script for _host, script, _data in _scripts(estate, since)}
    assert ran >= FAMILY_SCRIPTS and "host_power" in ran, ran  # listed over WinRM, not from the embedded estate
    again = run("plan", imported, "--detailed-exitcode")
    assert again.exit_code == 0, out(again)
    assert "No changes" in out(again)
