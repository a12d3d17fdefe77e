"""The VMM/Hyper-V emulator behind the test endpoint refuses what VMM and Hyper-V refuse (the rules the embedded
estate teaches), and answers on the machine a script was sent to: the tests of the provider are only as good as
these refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests import winrm_powershell as ps
from tests.vmm_emulator import VmmEmulator

VMM = "VMM01.contoso.int"


@pytest.fixture
def vmm() -> VmmEmulator:
    return VmmEmulator.contoso_west(job_polls=0)


def _answer(reply: ps.Reply) -> tuple[str, Any]:
    """('result', the output list) or ('error', the error record)."""
    stdout, _stderr, _code = reply
    kind = "error" if "--reconciler-error-" in stdout else "result"
    block = stdout.split(f"--reconciler-{kind}-{ps.NONCE}--", 1)[1].split(f"--end-reconciler-{kind}-", 1)[0]
    value = json.loads(block)
    return kind, value["output"] if kind == "result" else value


def _ok(vmm: VmmEmulator, script: str, data: dict[str, Any], machine: str = VMM) -> Any:
    kind, value = _answer(vmm.reply(machine, script, data))
    assert kind == "result", value
    return value


def _refused(vmm: VmmEmulator, script: str, data: dict[str, Any], machine: str = VMM) -> dict[str, Any]:
    kind, value = _answer(vmm.reply(machine, script, data))
    assert kind == "error", value
    return dict(value)


def _network(vmm: VmmEmulator, name: str = "PA", *, virtualized: bool = True) -> None:
    data = {"operation": "set_logical_network", "id": None, "name": name, "networkVirtualization": virtualized}
    _ok(vmm, "vmm_networks", data | {"description": ""})


def test_a_site_needs_its_logical_network_and_host_groups(vmm: VmmEmulator) -> None:
    site = {
        "operation": "set_network_site",
        "id": None,
        "name": "PA-West",
        "logicalNetwork": "PA",
        "hostGroups": ["All Hosts\\West"],
        "subnets": [{"subnet": "10.10.0.0/24", "vlan": 0}],
    }
    assert _refused(vmm, "vmm_networks", site)["category"] == "ObjectNotFound"
    _network(vmm)
    assert _refused(vmm, "vmm_networks", site | {"hostGroups": ["All Hosts\\East"]})["category"] == "ObjectNotFound"
    _ok(vmm, "vmm_networks", site)
    pool = {
        "operation": "set_ip_pool",
        "id": None,
        "name": "P",
        "networkSite": "PA-West",
        "subnet": "10.10.0.0/24",
        "rangeStart": "10.10.0.10",
        "rangeEnd": "10.10.1.10",
    }
    assert "not in the subnet" in _refused(vmm, "vmm_networks", pool)["message"]
    removal = {"operation": "remove", "kind": "vmm.logical_network", "id": None, "name": "PA"}
    assert "uses it" in _refused(vmm, "vmm_networks", removal)["message"]  # the site uses the logical network


def test_a_switch_needs_its_uplinks_and_a_vm_network_a_virtualized_logical_network(vmm: VmmEmulator) -> None:
    switch = {
        "operation": "set_logical_switch",
        "id": None,
        "name": "S",
        "uplinkMode": "Team",
        "sriov": False,
        "uplinkPortProfiles": ["Missing-Uplink"],
        "portClassifications": [],
    }
    assert _refused(vmm, "vmm_switches", switch)["category"] == "ObjectNotFound"
    _network(vmm, "Plain", virtualized=False)
    network: dict[str, Any] = {
        "operation": "set_vm_network",
        "id": None,
        "name": "N",
        "logicalNetwork": "Plain",
        "subnets": [],
    }
    refused = _refused(vmm, "vmm_vm_networks", network | {"isolation": "WindowsNetworkVirtualization"})
    assert "Network virtualization is not enabled" in refused["message"]
    deploy = {"operation": "set_host_switch", "host": "HV01.contoso.int", "logicalSwitch": "S"}
    assert _refused(vmm, "vmm_switches", deploy)["category"] == "ObjectNotFound"


def test_a_running_vm_refuses_what_needs_it_off_and_vmm_sets_startup_and_minimum_equal(vmm: VmmEmulator) -> None:
    vm01 = vmm.vm("VM01")
    refused = _refused(vmm, "vmm_vms", {"operation": "set_memory", "id": vm01["ID"], "startupMB": 2048})
    assert "is running" in refused["message"]
    _ok(vmm, "vmm_vms", {"operation": "set_memory", "id": vm01["ID"], "maximumMB": 4096})  # raising maximum is live
    vm01["VirtualMachineState"] = "PowerOff"
    _ok(vmm, "vmm_vms", {"operation": "set_memory", "id": vm01["ID"], "startupMB": 2048})
    assert (vm01["Memory"], vm01["DynamicMemoryMinimumMB"]) == (2048, 2048)  # VMM keeps them equal


def test_wmi_sets_startup_above_minimum_on_the_vms_own_host_and_vmm_sees_it_after_a_refresh(vmm: VmmEmulator) -> None:
    vm01 = vmm.vm("VM01")
    vm01["VirtualMachineState"] = "PowerOff"
    data = {"operation": "set", "vmId": vm01["VMId"], "startupMB": 2048, "minimumMB": 512, "maximumMB": 2048}
    assert _refused(vmm, "hyperv_memory", data, "HV02.contoso.int")["category"] == "ObjectNotFound"
    assert _refused(vmm, "hyperv_memory", data, VMM)["cmdlet"] == "Get-WmiObject"  # not a Hyper-V host
    _ok(vmm, "hyperv_memory", data, "HV01.contoso.int")
    assert vm01["Memory"] == 512  # VMM still shows what it last read
    _ok(vmm, "vmm_vms", {"operation": "refresh", "id": vm01["ID"]})
    assert (vm01["Memory"], vm01["DynamicMemoryMinimumMB"]) == (2048, 512)


def test_scripts_answer_only_where_they_can_run(vmm: VmmEmulator) -> None:
    refused = _refused(vmm, "vmm_networks", {"operation": "read", "kinds": []}, "HV01.contoso.int")
    assert refused["cmdlet"] == "Import-Module" and refused["category"] == "ResourceUnavailable"
    assert _ok(vmm, "host_power", {"operation": "read"}, "HV02.contoso.int")[0]["SchemeName"] == "Balanced"
    bad = _refused(vmm, "host_power", {"operation": "set", "scheme": "not-a-guid; powercfg /h off"}, "HV02.contoso.int")
    assert "Unrecognized Guid format" in bad["message"]


def test_a_standalone_host_with_running_vms_is_not_put_in_maintenance(vmm: VmmEmulator) -> None:
    host = vmm.host("HV01.contoso.int")
    host["HostCluster"] = None
    refused = _refused(vmm, "vmm_hosts", {"operation": "maintenance", "id": host["ID"], "on": True})
    assert "not in a cluster" in refused["message"] and not host["MaintenanceHost"]
