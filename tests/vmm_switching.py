"""The emulated VMM server's logical switches and their deployment to hosts: what ``vmm_switches.ps1`` prints
and does. VMM's rules: a switch's uplink port profiles and classifications (and each classification's virtual port
profile) exist; a host switch needs the host, the switch, an uplink port profile set, and a free connected
adapter that is not the management one (NoTeam takes one, Team all); a switch deployed on a host cannot be
removed."""

from __future__ import annotations

from typing import Any

from tests.vmm_state import CmdletError, Record, State, describer, refuse_in_use, result, unknown, wanted


def switches(vmm: State, data: dict[str, Any]) -> list[Any]:
    op = data.get("operation")
    if op == "read":
        kinds, out = data.get("kinds") or [], {}
        if "vmm.logical_switch" in kinds:
            out["logicalSwitches"] = [_switch_record(vmm, r) for r in vmm.all("switch") if wanted(data, r["Name"])]
        if "vmm.host_switch" in kinds:
            out["hostSwitches"] = [
                record
                for r in vmm.all("virtualNetwork")
                for record in [_host_switch_record(vmm, r)]
                if wanted(data, f"{record['VMHost']}/{record['LogicalSwitch']}")
            ]
        return [out]
    handler = {
        "set_logical_switch": _switch,
        "set_host_switch": _host_switch,
        "remove": _remove,
        "describe": describer({"*": "switch"}),
    }.get(str(op), unknown)
    return [handler(vmm, data)]


def _switch_record(vmm: State, r: Record) -> Record:
    return {
        "ID": r["ID"],
        "Name": r["Name"],
        "Description": r["Description"],
        "UplinkMode": r["UplinkMode"],
        "EnableSriov": r["EnableSriov"],
        "UplinkPortProfiles": [vmm.name("uplink", i) for i in r["uplinks"]],
        "PortClassifications": [vmm.name("classification", i) for i in r["classifications"]],
    }


def _host_switch_record(vmm: State, r: Record) -> Record:
    return {
        "ID": r["ID"],
        "Name": r["Name"],
        "VMHost": vmm.name("host", r["host"]),
        "LogicalSwitch": vmm.name("switch", r["switch"]),
    }


def _switch(vmm: State, data: dict[str, Any]) -> Record:
    cmdlet = "New-SCLogicalSwitch"
    uplinks = [vmm.need("uplink", n, "uplink port profile", cmdlet=cmdlet)["ID"] for n in data["uplinkPortProfiles"]]
    classes = [vmm.need("classification", n, "port classification", cmdlet=cmdlet) for n in data["portClassifications"]]
    for c in classes:
        vmm.need("portProfile", c["Name"], "virtual port profile", cmdlet="New-SCVirtualNetworkAdapterPortProfileSet")
    found = vmm.find("switch", ident=data.get("id"), name=data["name"])
    if found is None:
        found = vmm.add(
            "switch",
            {
                "Name": data["name"],
                "Description": str(data.get("description") or ""),
                "UplinkMode": data["uplinkMode"],
                "EnableSriov": bool(data["sriov"]),
                "uplinks": [],
                "classifications": [],
            },
        )
    elif data.get("description") is not None:
        found["Description"] = str(data["description"])
    jobs = [
        vmm.job(f"Create uplink port profile set {vmm.name('uplink', u)}") for u in uplinks if u not in found["uplinks"]
    ]
    found["uplinks"] = uplinks
    found["classifications"] = [c["ID"] for c in classes]
    return result(found, jobs)


def _host_switch(vmm: State, data: dict[str, Any]) -> Record:
    host = vmm.need("host", data["host"], "host", cmdlet="Get-SCVMHost")
    switch = vmm.need("switch", data["logicalSwitch"], "logical switch", cmdlet="Get-SCLogicalSwitch")
    existing = next(
        vmm.used_by("virtualNetwork", lambda r: r["host"] == host["ID"] and r["switch"] == switch["ID"]), None
    )
    if existing is not None:
        return result(existing, [])
    if not switch["uplinks"]:
        raise CmdletError(f"logical switch '{switch['Name']}' has no uplink port profile", cmdlet="Write-Error")
    free = [a for a in host["adapters"] if not a["VirtualNetwork"] and not a["UsedForManagement"] and a["Connected"]]
    if not free:
        raise CmdletError(
            f"host '{host['Name']}' has no free connected physical adapter for '{switch['Name']}'", cmdlet="Write-Error"
        )
    chosen = free[:1] if switch["UplinkMode"] == "NoTeam" else free

    def deploy() -> None:
        network = vmm.add("virtualNetwork", {"Name": switch["Name"], "host": host["ID"], "switch": switch["ID"]})
        for adapter in chosen:
            adapter["VirtualNetwork"] = network["ID"]

    return result(None, [vmm.job(f"Change properties of virtual machine host {host['Name']}", deploy)])


def _remove(vmm: State, data: dict[str, Any]) -> Record:
    if data.get("kind") == "vmm.logical_switch":
        found = vmm.find("switch", ident=data.get("id"), name=data.get("name"))
        if found is None:
            return result(None, [])
        ident = found["ID"]
        refuse_in_use(
            found, list(vmm.used_by("virtualNetwork", lambda r: r["switch"] == ident)), "Remove-SCLogicalSwitch"
        )
        switch = found
        return result(None, [vmm.job(f"Remove logical switch {found['Name']}", lambda: vmm.remove("switch", switch))])
    if data.get("kind") == "vmm.host_switch":
        network = vmm.find("virtualNetwork", ident=data.get("id"), name="")
        if network is None:
            return result(None, [])
        host = vmm.get("host", network["host"])

        def undeploy() -> None:
            assert network is not None
            vmm.remove("virtualNetwork", network)
            for adapter in host["adapters"] if host else []:
                if adapter["VirtualNetwork"] == network["ID"]:
                    adapter["VirtualNetwork"] = None

        return result(None, [vmm.job(f"Remove virtual switch {network['Name']}", undeploy)])
    raise CmdletError("unknown kind", cmdlet="Write-Error", category="InvalidArgument")
