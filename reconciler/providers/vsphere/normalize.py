"""vCenter's objects (``inventory.HostInfo``, ``VmInfo``, ``perf.CpuReady``) -> the engine's normalized shape.
Pure: fixture-tested (tests/test_vsphere_provider.py), and the only place the shapes below are decided.

- ``host.power_policy``: data ``{platform: vsphere, policy: <shortName>}``, as the PowerProfile's desired shape
  (``static`` = High performance, ``dynamic`` = Balanced, ``low``, ``custom``); status the policy's display
  name and the short names the host offers.
- ``host.state`` (inventory: read for health and the host procedure, never planned): data the host's name,
  platform and cluster; status ``maintenance``, ``responding`` (vCenter reaches the host: False while it
  reboots), and with metrics ``cpuReadyPercent`` (the host's ``cpu.ready.summation`` over the window, as
  vSphere's own chart shows it), ``cpuReadyPeakPercent``, ``cpuReadySource``, ``pcpus`` (physical cores),
  ``vcpus`` (of the VMs running on it) and ``vms`` (the VMs with the most ready time, per-vCPU figures too).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core.addresses import Address
from reconciler.core.resources import Observed
from reconciler.providers.vsphere.inventory import ConnectionState, HostInfo, PowerState, VmInfo
from reconciler.providers.vsphere.perf import REALTIME_INTERVAL_S, CpuReady

PLATFORM = "vsphere"
TOP_VMS = 5  # the VMs a host's status lists by ready time: enough to name the culprits, small for 1,000 hosts


def _version(data: Mapping[str, Any]) -> str:
    """A digest of what the planner compares: a saved plan is refused when it moved."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def source(samples: int) -> str:
    """Where a vSphere host's CPU ready figure comes from, as reports name it."""
    return f"vCenter QueryPerf, cpu.ready.summation averaged over {samples * REALTIME_INTERVAL_S / 60:g} min"


def power_policy(address: Address, host: HostInfo) -> Observed:
    data = {"platform": PLATFORM, "policy": host.power_policy.short_name if host.power_policy is not None else ""}
    status = {
        "policyName": host.power_policy.name if host.power_policy is not None else "",
        "available": [p.short_name for p in host.available_policies],
    }
    return Observed(address=address, data=data, status=status, version=_version(data))


def host_state(address: Address, host: HostInfo) -> Observed:
    """A host without metrics: what the host procedure polls (one cheap read per poll)."""
    data = {"name": host.name, "platform": PLATFORM, "cluster": host.cluster}
    status: dict[str, Any] = {
        "maintenance": host.in_maintenance,
        "responding": host.connection_state is ConnectionState.CONNECTED,
        "connectionState": host.connection_state.value,
        "powerState": host.power_state.value,
    }
    return Observed(address=address, data=data, status=status, version=_version(data))


def running_on(host: HostInfo, vms: Sequence[VmInfo]) -> list[VmInfo]:
    """The powered-on VMs vCenter places on ``host``."""
    name = host.name.casefold()
    return [vm for vm in vms if vm.power_state is PowerState.ON and (vm.host or "").casefold() == name]


def with_metrics(
    observed: Observed,
    host: HostInfo,
    *,
    running: Sequence[VmInfo],
    host_ready: CpuReady | None,
    vm_ready: Mapping[str, CpuReady],
    samples: int,
) -> Observed:
    """``observed`` (from :func:`host_state`) with CPU ready and the vCPU:pCPU figures: ``host_ready`` the host's
    reading, ``vm_ready`` its VMs' by name; a host with no samples gets no figure."""
    status = dict(observed.status)
    reading = host_ready
    if reading is not None and reading.percent is not None:
        status["cpuReadyPercent"] = _pct(reading.percent)
        status["cpuReadyPeakPercent"] = _pct(reading.peak_percent)
        status["cpuReadySource"] = source(samples)
    status["pcpus"] = host.cpu_cores
    status["vcpus"] = sum(vm.vcpus for vm in running)
    readings = [(vm, vm_ready[vm.name]) for vm in running if vm.name in vm_ready]
    shown = sorted(
        ((vm, one) for vm, one in readings if one.percent is not None),
        key=lambda pair: (-(pair[1].percent or 0.0), pair[0].name),
    )
    vms = [
        {
            "name": vm.name,
            "vcpus": vm.vcpus,
            "cpuReadyPercent": _pct(one.percent),
            "cpuReadyPerVcpuPercent": _pct(one.per_vcpu_percent),
        }
        for vm, one in shown
    ]
    status["vms"] = vms[:TOP_VMS]
    return Observed(
        address=observed.address, data=observed.data, status=status, owned=observed.owned, version=observed.version
    )
