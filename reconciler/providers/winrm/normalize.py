"""What the shipped scripts print (VMM's and Hyper-V's objects, reduced to the properties a kind needs and
named as ``Get-SC*`` names them) -> the normalized objects the engine diffs against the specs.

Pure functions, one per kind, so fixture files can pin them (``tests/fixtures/winrm/<kind>/``). What they
settle, so that a converged estate plans no change:
- VMM writes host group paths with backslashes (``All Hosts\\West``), the specs with slashes;
- references come back as objects; the scripts print their names, the spec's shape;
- the ownership marker lives in the Description (``marker.py``): read out of it, and out of a port
  classification's description, which the spec manages;
- VMM keeps a static-memory VM's dynamic range from before; a static VM is startup = minimum = maximum;
- memory weight is 0-10000 (priority x 100), power states have VMM's names (``PowerOff``);
- a Windows power plan is known by its GUID whatever the language of its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.providers.winrm import marker

# Windows' built-in power plans (powercfg /list), by GUID: their names are localized, their GUIDs are not.
POWER_PLANS = {
    "381b4222-f694-41f0-9685-ff5bb260df2e": "Balanced",
    "8c5e7fda-e8bf-4a96-9a85-a6e23a8c635c": "HighPerformance",
    "a1841308-3541-4fab-bc81-f71556f20b4a": "PowerSaver",
}
PLAN_GUIDS = {name.casefold(): guid for guid, name in POWER_PLANS.items()}

# VMM's VirtualMachineState -> the power state the engine knows (``Running`` is what a disruption checks).
_POWER_STATES = {"running": "Running", "poweroff": "Off", "stopped": "Off", "saved": "Saved", "paused": "Paused"}


@dataclass
class Normalized:
    name: str
    data: dict[str, Any]
    status: dict[str, Any] = field(default_factory=dict)
    owned: bool = False
    scope: str | None = None  # the site or tenant the object says it belongs to (its marker), when it says
    id: str = ""  # VMM's ID of the object (a GUID): what a write names, and the ledger's key
    text: str = ""  # its Description without the tool's marker: what an adoption keeps


def host_group(path: Any) -> str:
    """VMM's ``All Hosts\\West`` as the specs write it: ``All Hosts/West``."""
    return str(path or "").replace("\\", "/").strip("/")


def vmm_path(path: str) -> str:
    """The specs' ``All Hosts/West`` as VMM writes it."""
    return path.replace("/", "\\")


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [str(v) for v in items if v not in (None, "")]


def _bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.casefold() == "true")


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _owned(obj: Mapping[str, Any]) -> tuple[marker.Parsed, dict[str, Any]]:
    parsed = marker.parse(obj.get("Description"))
    return parsed, ({"marker": parsed.marker} if parsed.marker is not None else {})


def _described(obj: Mapping[str, Any], data: dict[str, Any]) -> Normalized:
    """A VMM object whose Description carries the tool's marker."""
    parsed, status = _owned(obj)
    ident = str(obj.get("ID") or "")
    return Normalized(str(obj.get("Name")), data, status, parsed.owned, parsed.scope, ident, parsed.text)


def logical_network(obj: Mapping[str, Any]) -> Normalized:
    data = {"name": obj.get("Name"), "networkVirtualization": _bool(obj.get("NetworkVirtualizationEnabled"))}
    return _described(obj, data)


def network_site(obj: Mapping[str, Any]) -> Normalized:
    """A logical network definition. It has no Description: ownership comes from the ledger."""
    subnets = [
        {"subnet": str(s.get("Subnet")), "vlan": _int(s.get("VLanID")) or 0}
        for s in obj.get("SubnetVLans") or []
        if isinstance(s, Mapping)
    ]
    data = {
        "name": obj.get("Name"),
        "logicalNetwork": obj.get("LogicalNetwork"),
        "hostGroups": [host_group(p) for p in _names(obj.get("HostGroups"))],
        "subnets": subnets,
    }
    return Normalized(str(obj.get("Name")), data, id=str(obj.get("ID") or ""))


def ip_pool(obj: Mapping[str, Any]) -> Normalized:
    gateways = _names(obj.get("DefaultGateways"))
    data = {
        "name": obj.get("Name"),
        "networkSite": obj.get("LogicalNetworkDefinition"),
        "subnet": obj.get("Subnet"),
        "rangeStart": obj.get("IPAddressRangeStart"),
        "rangeEnd": obj.get("IPAddressRangeEnd"),
        "gateway": gateways[0] if gateways else None,
        "dnsServers": _names(obj.get("DNSServers")),
    }
    return _described(obj, data)


def uplink_port_profile(obj: Mapping[str, Any]) -> Normalized:
    data = {
        "name": obj.get("Name"),
        "networkSites": _names(obj.get("LogicalNetworkDefinitions")),
        "networkVirtualization": _bool(obj.get("EnableNetworkVirtualization")),
        "teamingMode": obj.get("LBFOTeamMode"),
        "loadBalancing": obj.get("LBFOLoadBalancingAlgorithm"),
    }
    return _described(obj, data)


def port_classification(obj: Mapping[str, Any]) -> Normalized:
    """A port classification and the virtual port profile of the same name the tool pairs with it (the guards
    live on the profile; a classification alone has none, which reads as all off)."""
    profile = obj.get("PortProfile")
    guards: Mapping[str, Any] = profile if isinstance(profile, Mapping) else {}
    parsed, status = _owned(obj)
    data = {
        "name": obj.get("Name"),
        "description": parsed.text.rstrip(),
        "dhcpGuard": _bool(guards.get("EnableDhcpGuard")),
        "routerGuard": _bool(guards.get("EnableRouterGuard")),
        "macSpoofing": _bool(guards.get("AllowMacAddressSpoofing")),
    }
    status["portProfile"] = bool(guards)
    ident = str(obj.get("ID") or "")
    return Normalized(str(obj.get("Name")), data, status, parsed.owned, parsed.scope, ident, parsed.text)


def logical_switch(obj: Mapping[str, Any]) -> Normalized:
    data = {
        "name": obj.get("Name"),
        "uplinkMode": obj.get("UplinkMode"),
        "sriov": _bool(obj.get("EnableSriov")),
        "uplinkPortProfiles": _names(obj.get("UplinkPortProfiles")),
        "portClassifications": _names(obj.get("PortClassifications")),
    }
    return _described(obj, data)


def host_switch(obj: Mapping[str, Any]) -> Normalized:
    """A logical switch deployed on a host (a host virtual switch): named ``HOST/SWITCH`` like its address.
    No Description: ownership comes from the ledger."""
    host, switch = str(obj.get("VMHost")), str(obj.get("LogicalSwitch"))
    return Normalized(f"{host}/{switch}", {"host": host, "logicalSwitch": switch}, id=str(obj.get("ID") or ""))


def vm_network(obj: Mapping[str, Any]) -> Normalized:
    subnets = []
    for s in obj.get("VMSubnets") or []:
        if isinstance(s, Mapping):
            for subnet in _names(s.get("Subnets")) or [""]:
                subnets.append({"name": s.get("Name"), "subnet": subnet})
    data = {
        "name": obj.get("Name"),
        "logicalNetwork": obj.get("LogicalNetwork"),
        "isolation": obj.get("IsolationType"),
        "subnets": subnets,
    }
    return _described(obj, data)


def cloud(obj: Mapping[str, Any]) -> Normalized:
    data: dict[str, Any] = {
        "name": obj.get("Name"),
        "hostGroups": [host_group(p) for p in _names(obj.get("HostGroups"))],
        "logicalNetworks": _names(obj.get("LogicalNetworks")),
    }
    capacity = _capacity(obj.get("Capacity"))
    if capacity:
        data["capacity"] = capacity
    return _described(obj, data)


def _capacity(value: Any) -> dict[str, int]:
    """The limits a cloud has (VMM's ``Use...Maximum`` true means unlimited: no key)."""
    if not isinstance(value, Mapping):
        return {}
    out: dict[str, int] = {}
    for key, limited, amount, scale in (
        ("vms", "UseVMCountMaximum", "VMCount", 1),
        ("vcpus", "UseCPUCountMaximum", "CPUCount", 1),
        ("memoryGb", "UseMemoryMBMaximum", "MemoryMB", 1024),
        ("storageGb", "UseStorageGBMaximum", "StorageGB", 1),
    ):
        number = _int(value.get(amount))
        if not _bool(value.get(limited)) and number is not None:
            out[key] = number // scale
    return out


def vm_memory(obj: Mapping[str, Any]) -> Normalized:
    """A VM's memory as VMM reports it, its power state, host and cloud; ``resume`` is the mark an apply writes
    in the ReconcilerResume custom property before it stops the VM."""
    dynamic = _bool(obj.get("DynamicMemoryEnabled"))
    startup = _int(obj.get("Memory"))
    weight = _int(obj.get("MemoryWeight"))
    data = {
        "dynamic": dynamic,
        "startup": startup,
        "minimum": _int(obj.get("DynamicMemoryMinimumMB")) if dynamic else startup,
        "maximum": _int(obj.get("DynamicMemoryMaximumMB")) if dynamic else startup,
        "bufferPercent": _int(obj.get("DynamicMemoryBufferPercentage")),
        "priority": round(weight / 100) if weight is not None else None,
    }
    state = str(obj.get("VirtualMachineState") or "")
    status: dict[str, Any] = {
        "powerState": _POWER_STATES.get(state.casefold(), state),
        "cloud": obj.get("Cloud"),
        "host": obj.get("VMHost"),
        "vmId": obj.get("VMId"),
    }
    if obj.get("Resume"):
        status["resume"] = str(obj.get("Resume"))
    return Normalized(str(obj.get("Name")), data, status, id=str(obj.get("ID") or ""))


def host_state(obj: Mapping[str, Any]) -> Normalized:
    """A Hyper-V host as VMM sees it: in maintenance (``MaintenanceHost``) and responding (VMM's communication
    state; not while the host reboots)."""
    communication = str(obj.get("CommunicationState") or "")
    responding = communication.casefold() == "responding"
    status = {
        "maintenance": _bool(obj.get("MaintenanceHost")),
        "responding": responding,
        "powerState": "Running" if responding else "Unknown",
        "communicationState": communication,
        "overallState": obj.get("OverallState"),
    }
    data = {"name": obj.get("Name"), "platform": "hyperv", "hostGroup": host_group(obj.get("VMHostGroup"))}
    return Normalized(str(obj.get("Name")), data, status, id=str(obj.get("ID") or ""))


def power_policy(obj: Mapping[str, Any]) -> Normalized:
    """The host's active Windows power plan (``powercfg /getactivescheme``), by GUID."""
    guid = str(obj.get("ActiveScheme") or "").strip("{} ").casefold()
    plan = POWER_PLANS.get(guid) or str(obj.get("SchemeName") or guid)
    return Normalized(str(obj.get("ComputerName")), {"platform": "hyperv", "powerPlan": plan}, {"schemeGuid": guid})
