"""The emulated VMM server's tenant-facing objects: VM networks with their VM subnets (``vmm_vm_networks.ps1``)
and clouds with their host groups, logical networks and capacity (``vmm_clouds.ps1``). VMM's rules: a
network-virtualized VM network needs a logical network with network virtualization on; a cloud's host groups and
logical networks exist."""

from __future__ import annotations

import ipaddress
from typing import Any

from tests.vmm_state import CmdletError, Record, State, describer, host_groups, result, unknown, wanted

_UNLIMITED = {"VMCount": 0, "CPUCount": 0, "MemoryMB": 0, "StorageGB": 0}


def vm_networks(vmm: State, data: dict[str, Any]) -> list[Any]:
    op = data.get("operation")
    if op == "read":
        records = [
            {
                "ID": r["ID"],
                "Name": r["Name"],
                "Description": r["Description"],
                "LogicalNetwork": vmm.name("logicalNetwork", r["LogicalNetwork"]),
                "IsolationType": r["IsolationType"],
                "VMSubnets": [{"Name": s["Name"], "Subnets": [s["Subnet"]]} for s in r["subnets"]],
            }
            for r in vmm.all("vmNetwork")
            if wanted(data, r["Name"])
        ]
        return [{"vmNetworks": records}]
    handlers = {"set_vm_network": _vm_network, "remove": _remove_vm_network, "describe": describer({"*": "vmNetwork"})}
    return [handlers.get(str(op), unknown)(vmm, data)]


def _vm_network(vmm: State, data: dict[str, Any]) -> Record:
    cmdlet = "New-SCVMNetwork"
    logical = vmm.need("logicalNetwork", data["logicalNetwork"], "logical network", cmdlet=cmdlet)
    found = vmm.find("vmNetwork", ident=data.get("id"), name=data["name"])
    if found is None:
        isolation = str(data["isolation"])
        if isolation == "WindowsNetworkVirtualization" and not logical["NetworkVirtualizationEnabled"]:
            raise CmdletError(
                f"Network virtualization is not enabled on logical network '{logical['Name']}'.",
                cmdlet=cmdlet,
                code="50036",
            )
        record = {
            "Name": data["name"],
            "Description": str(data.get("description") or ""),
            "LogicalNetwork": logical["ID"],
            "IsolationType": isolation,
            "subnets": [],
        }
        found = vmm.add("vmNetwork", record)
    elif data.get("description") is not None:
        found["Description"] = str(data["description"])
    jobs = []
    wanted_names = {str(s["name"]).casefold() for s in data.get("subnets") or []}
    found["subnets"] = [s for s in found["subnets"] if str(s["Name"]).casefold() in wanted_names]
    for item in data.get("subnets") or []:
        subnet = str(ipaddress.ip_network(item["subnet"]))
        have = next((s for s in found["subnets"] if str(s["Name"]).casefold() == str(item["name"]).casefold()), None)
        if have is not None and have["Subnet"] != subnet:
            found["subnets"].remove(have)
            have = None
        if have is None:
            target, new = found, {"Name": item["name"], "Subnet": subnet}
            jobs.append(vmm.job(f"Create VM subnet {item['name']}", lambda t=target, n=new: t["subnets"].append(n)))
    return result(found, jobs)


def _remove_vm_network(vmm: State, data: dict[str, Any]) -> Record:
    found = vmm.find("vmNetwork", ident=data.get("id"), name=data.get("name"))
    if found is None:
        return result(None, [])
    network = found
    return result(None, [vmm.job(f"Remove VM network {found['Name']}", lambda: vmm.remove("vmNetwork", network))])


def clouds(vmm: State, data: dict[str, Any]) -> list[Any]:
    op = data.get("operation")
    if op == "read":
        records = [
            {
                "ID": r["ID"],
                "Name": r["Name"],
                "Description": r["Description"],
                "HostGroups": list(r["HostGroups"]),
                "LogicalNetworks": [vmm.name("logicalNetwork", i) for i in r["LogicalNetworks"]],
                "Capacity": _capacity(r["capacity"]),
            }
            for r in vmm.all("cloud")
            if wanted(data, r["Name"])
        ]
        return [{"clouds": records}]
    handlers = {"set_cloud": _cloud, "remove": _remove_cloud, "describe": describer({"*": "cloud"})}
    return [handlers.get(str(op), unknown)(vmm, data)]


def _capacity(limits: Record) -> Record:
    out: Record = {}
    for amount, unlimited in _UNLIMITED.items():
        out[f"Use{amount}Maximum"] = amount not in limits
        out[amount] = limits.get(amount, unlimited)
    return out


def _cloud(vmm: State, data: dict[str, Any]) -> Record:
    cmdlet = "Set-SCCloud"
    groups = host_groups(vmm, data["hostGroups"], cmdlet)
    networks = [vmm.need("logicalNetwork", n, "logical network", cmdlet=cmdlet)["ID"] for n in data["logicalNetworks"]]
    found = vmm.find("cloud", ident=data.get("id"), name=data["name"])
    if found is None:
        record = {"Name": data["name"], "Description": "", "HostGroups": groups, "LogicalNetworks": [], "capacity": {}}
        found = vmm.add("cloud", record)
    change: Record = {"HostGroups": groups, "LogicalNetworks": networks}
    if data.get("description") is not None:
        change["Description"] = str(data["description"])
    target = found
    job = vmm.job(f"Change properties of cloud {found['Name']}", lambda: target.update(change))
    for amount, value in (data.get("capacity") or {}).items():
        if amount not in _UNLIMITED:
            raise CmdletError(
                f"A parameter cannot be found that matches parameter name '{amount}'.", cmdlet="Set-SCCloudCapacity"
            )
        found["capacity"][amount] = int(value)
    return result(found, [job])


def _remove_cloud(vmm: State, data: dict[str, Any]) -> Record:
    found = vmm.find("cloud", ident=data.get("id"), name=data.get("name"))
    if found is None:
        return result(None, [])
    ident = found["ID"]
    if any(vm["cloud"] == ident for vm in vmm.all("vm")):
        raise CmdletError(f"Cloud '{found['Name']}' holds virtual machines.", cmdlet="Remove-SCCloud", code="20413")
    cloud = found
    return result(None, [vmm.job(f"Remove cloud {found['Name']}", lambda: vmm.remove("cloud", cloud))])
