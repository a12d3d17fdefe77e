"""Fixture cases for the host backends' normalization: ``providers.vsphere.normalize`` (vCenter's host, VM and
CPU ready readings -> ``host.power_policy`` and ``host.state``) and ``providers.bmc.normalize`` (a BMC's BIOS ->
``bmc.bios``). One YAML file per case under ``tests/fixtures/vsphere/<kind>/`` or ``tests/fixtures/bmc/<kind>/``,
starting with a one-line comment saying what the case shows in operator terms::

    host: {name, cluster, inMaintenance, connectionState, powerState, cores, policy: {key, shortName, name},
           available: [...]}                    # vSphere: the host as inventory.read_hosts gives it (defaults below)
    vms: [{name, host, vcpus, powerState}]      # host.state: the VMs of the vCenter
    ready: {host: [ms, ...], vms: {name: [ms, ...]}}   # host.state: cpu.ready.summation samples, 20 s each
    samples: 15                                 # host.state: the window the source names
    metrics: false                              # host.state: the single read the host procedure polls
    vendor: dell                                # BMC: the spec's vendor
    bios: {attributes, pending, registryId}     # BMC: what read_bios gives
    job: {id, state, percent, message}          # BMC: optional
    expect: {data: {...}, status: {...}}        # exact

The module holds the suite to its coverage (at least two cases per kind) and checks that a configured kind's
normalized data carries exactly the field names the spec's desired shape uses (``engine.expand``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.core.addresses import Address
from reconciler.core.resources import Observed
from reconciler.providers.bmc import normalize as bmc_normalize
from reconciler.providers.bmc.model import BiosState, Job, JobState
from reconciler.providers.vsphere import normalize as vsphere_normalize
from reconciler.providers.vsphere.inventory import ConnectionState, HostInfo, PowerPolicy, PowerState, VmInfo
from reconciler.providers.vsphere.perf import CpuReady, EntityKind

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted([*FIXTURES.glob("vsphere/*/*.yaml"), *FIXTURES.glob("bmc/*/*.yaml")])
# The desired shape engine.expand gives each configured kind (host.state is inventory: never desired).
DESIRED_FIELDS = {"host.power_policy": {"platform", "policy"}, "bmc.bios": {"vendor", "attributes"}}


def _id(case: Path) -> str:
    return f"{case.parent.parent.name}/{case.parent.name}/{case.stem}"


def _load(case: Path) -> dict[str, Any]:
    text = case.read_text()
    assert text.startswith("# "), f"{case.name}: start with a one-line comment saying what the case shows"
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded


def _policy(d: dict[str, Any] | None) -> PowerPolicy | None:
    return None if d is None else PowerPolicy(key=d["key"], short_name=d["shortName"], name=d["name"])


def _host(d: dict[str, Any]) -> HostInfo:
    return HostInfo(
        name=d["name"],
        moid=d.get("moid", "host-1"),
        cluster=d.get("cluster", "DC0_C0"),
        connection_state=ConnectionState(d.get("connectionState", "connected")),
        in_maintenance=bool(d.get("inMaintenance", False)),
        power_state=PowerState(d.get("powerState", "poweredOn")),
        power_policy=_policy(d.get("policy")),
        available_policies=tuple(p for p in (_policy(x) for x in d.get("available", [])) if p is not None),
        power_system_moid="powerSystem-1",
        cpu_packages=1,
        cpu_cores=int(d.get("cores", 4)),
        cpu_threads=2 * int(d.get("cores", 4)),
        vendor="Dell Inc.",
        model="PowerEdge R740",
    )


def _vm(d: dict[str, Any]) -> VmInfo:
    return VmInfo(
        name=d["name"],
        moid=f"vm-{d['name']}",
        instance_uuid=None,
        host=d.get("host"),
        power_state=PowerState(d.get("powerState", "poweredOn")),
        vcpus=int(d["vcpus"]),
        memory_mb=1024,
        memory_reservation_mb=0,
        memory_limit_mb=None,
        guest_id=None,
        guest_full_name=None,
        tools_running=None,
        tools_version=None,
        disks=(),
        nics=(),
    )


def _vsphere(kind: str, case: dict[str, Any]) -> Observed:
    host = _host(case["host"])
    address = Address(kind, "lab", host.name)
    if kind == "host.power_policy":
        return vsphere_normalize.power_policy(address, host)
    observed = vsphere_normalize.host_state(address, host)
    if case.get("metrics") is False:
        return observed
    vms = [_vm(v) for v in case.get("vms", [])]
    ready = case.get("ready", {})
    host_ready = CpuReady(host.name, EntityKind.HOST, tuple(ready.get("host", [])), 20, None)
    vm_ready = {
        vm.name: CpuReady(vm.name, EntityKind.VM, tuple(ready.get("vms", {}).get(vm.name, [])), 20, vm.vcpus)
        for vm in vms
    }
    return vsphere_normalize.with_metrics(
        observed,
        host,
        running=vsphere_normalize.running_on(host, vms),
        host_ready=host_ready,
        vm_ready=vm_ready,
        samples=int(case.get("samples", 15)),
    )


def _bmc(kind: str, case: dict[str, Any]) -> Observed:
    b = case["bios"]
    state = BiosState(attributes=b["attributes"], pending=b.get("pending", {}), registry_id=b.get("registryId", ""))
    j = case.get("job")
    job = None if j is None else Job(id=j["id"], state=JobState(j["state"]), percent=j["percent"], message=j["message"])
    return bmc_normalize.bios(Address(kind, "lab", "host"), case["vendor"], state, job)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_normalize(case: Path) -> None:
    loaded = _load(case)
    backend, kind = case.parent.parent.name, case.parent.name
    observed = _vsphere(kind, loaded) if backend == "vsphere" else _bmc(kind, loaded)
    expect = loaded["expect"]
    assert observed.data == expect["data"]
    assert observed.status == expect["status"]
    if kind in DESIRED_FIELDS:
        assert set(observed.data) == DESIRED_FIELDS[kind], "the planner compares the spec's field names"
    assert observed.version  # a saved plan is refused when it moved


def test_every_kind_has_at_least_two_cases() -> None:
    per_kind: dict[str, int] = {}
    for case in CASES:
        per_kind[case.parent.name] = per_kind.get(case.parent.name, 0) + 1
    assert set(per_kind) == {"host.power_policy", "host.state", "bmc.bios"}
    assert all(n >= 2 for n in per_kind.values()), per_kind
