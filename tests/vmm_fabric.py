"""The emulated VMM server's network fabric: what ``vmm_networks.ps1``, ``vmm_ports.ps1``, ``vmm_switches.ps1``,
``vmm_vm_networks.ps1`` and ``vmm_clouds.ps1`` print, and what their cmdlets do, with VMM's rules: a network site
needs its logical network and host groups, a pool's range lies in its subnet, an uplink port profile needs its
sites, a switch its uplink port profiles and classifications (with their virtual port profiles), a
network-virtualized VM network a logical network with virtualization on; nothing in use can be removed."""

from __future__ import annotations

import ipaddress
from typing import Any

from tests.vmm_state import CmdletError, Record, State, describer, host_groups, refuse_in_use, result, unknown, wanted

# --- vmm_networks.ps1 ---------------------------------------------------------------------------------------------


def networks(vmm: State, data: dict[str, Any]) -> list[Any]:
    op = data.get("operation")
    if op == "read":
        kinds, out = data.get("kinds") or [], {}
        if "vmm.logical_network" in kinds:
            out["logicalNetworks"] = [dict(r) for r in vmm.all("logicalNetwork") if wanted(data, r["Name"])]
        if "vmm.network_site" in kinds:
            out["networkSites"] = [
                {
                    **{k: v for k, v in r.items() if k != "LogicalNetwork"},
                    "LogicalNetwork": vmm.name("logicalNetwork", r["LogicalNetwork"]),
                }
                for r in vmm.all("networkSite")
                if wanted(data, r["Name"])
            ]
        if "vmm.ip_pool" in kinds:
            out["ipPools"] = [
                {
                    **{k: v for k, v in r.items() if k != "site"},
                    "LogicalNetworkDefinition": vmm.name("networkSite", r["site"]),
                }
                for r in vmm.all("ipPool")
                if wanted(data, r["Name"])
            ]
        return [out]
    return [
        {
            "set_logical_network": _logical_network,
            "set_network_site": _network_site,
            "set_ip_pool": _ip_pool,
            "remove": _remove_network,
            "describe": describer({"vmm.logical_network": "logicalNetwork", "vmm.ip_pool": "ipPool"}),
        }.get(str(op), unknown)(vmm, data)
    ]


def _logical_network(vmm: State, data: dict[str, Any]) -> Record:
    found = vmm.find("logicalNetwork", ident=data.get("id"), name=data["name"])
    values: Record = {"NetworkVirtualizationEnabled": bool(data["networkVirtualization"])}
    if data.get("description") is not None:
        values["Description"] = str(data["description"])
    if found is None:
        record = {"Name": data["name"], "Description": "", **values}
        return vmm.create("logicalNetwork", f"Create logical network {data['name']}", record)
    target = found
    return result(found, [vmm.job(f"Change logical network {found['Name']}", lambda: target.update(values))])


def _network_site(vmm: State, data: dict[str, Any]) -> Record:
    cmdlet = "New-SCLogicalNetworkDefinition"
    network = vmm.need("logicalNetwork", data["logicalNetwork"], "logical network", cmdlet=cmdlet)
    groups = host_groups(vmm, data["hostGroups"], cmdlet)
    subnets = [{"Subnet": str(ipaddress.ip_network(s["subnet"])), "VLanID": int(s["vlan"])} for s in data["subnets"]]
    found = vmm.find("networkSite", ident=data.get("id"), name=data["name"])
    if found is None:
        record = {"Name": data["name"], "LogicalNetwork": network["ID"], "HostGroups": groups, "SubnetVLans": subnets}
        return vmm.create("networkSite", f"Create logical network definition {data['name']}", record)
    target = found
    change = {"HostGroups": groups, "SubnetVLans": subnets}
    return result(found, [vmm.job(f"Change logical network definition {found['Name']}", lambda: target.update(change))])


def _ip_pool(vmm: State, data: dict[str, Any]) -> Record:
    cmdlet = "New-SCStaticIPAddressPool"
    site = vmm.need("networkSite", data["networkSite"], "network site", cmdlet=cmdlet)
    found = vmm.find("ipPool", ident=data.get("id"), name=data["name"])
    subnet = ipaddress.ip_network(found["Subnet"] if found else data["subnet"])
    if not any(ipaddress.ip_network(s["Subnet"]) == subnet for s in site["SubnetVLans"]):
        raise CmdletError(f"subnet {subnet} is not a subnet of '{site['Name']}'", cmdlet=cmdlet, code="13633")
    for edge in (data["rangeStart"], data["rangeEnd"]):
        if ipaddress.ip_address(edge) not in subnet:
            raise CmdletError(f"the IP address {edge} is not in the subnet {subnet}", cmdlet=cmdlet, code="13624")
    values: Record = {"IPAddressRangeStart": data["rangeStart"], "IPAddressRangeEnd": data["rangeEnd"]}
    if data.get("dnsServers"):
        values["DNSServers"] = list(data["dnsServers"])
    if data.get("gateway"):
        values["DefaultGateways"] = [data["gateway"]]
    if data.get("description") is not None:
        values["Description"] = str(data["description"])
    if found is None:
        record = {
            "Name": data["name"],
            "Description": "",
            "site": site["ID"],
            "Subnet": str(subnet),
            "DNSServers": [],
            "DefaultGateways": [],
            **values,
        }
        return vmm.create("ipPool", f"Create static IP address pool {data['name']}", record)
    target = found
    return result(found, [vmm.job(f"Change static IP address pool {found['Name']}", lambda: target.update(values))])


def _remove_network(vmm: State, data: dict[str, Any]) -> Record:
    kind = {"vmm.logical_network": "logicalNetwork", "vmm.network_site": "networkSite", "vmm.ip_pool": "ipPool"}
    table = kind.get(str(data.get("kind")))
    if table is None:
        raise CmdletError("unknown kind", cmdlet="Write-Error", category="InvalidArgument")
    found = vmm.find(table, ident=data.get("id"), name=data.get("name"))
    if found is None:
        return result(None, [])
    ident = found["ID"]
    if table == "logicalNetwork":
        users = [
            *vmm.used_by("networkSite", lambda r: r["LogicalNetwork"] == ident),
            *vmm.used_by("vmNetwork", lambda r: r["LogicalNetwork"] == ident),
            *vmm.used_by("cloud", lambda r: ident in r["LogicalNetworks"]),
        ]
        refuse_in_use(found, users, "Remove-SCLogicalNetwork")
    elif table == "networkSite":
        users = [
            *vmm.used_by("ipPool", lambda r: r["site"] == ident),
            *vmm.used_by("uplink", lambda r: ident in r["sites"]),
        ]
        refuse_in_use(found, users, "Remove-SCLogicalNetworkDefinition")
    return result(None, [vmm.job(f"Remove {found['Name']}", lambda: vmm.remove(table, found))])


# --- vmm_ports.ps1 ------------------------------------------------------------------------------------------------


def ports(vmm: State, data: dict[str, Any]) -> list[Any]:
    op = data.get("operation")
    if op == "read":
        kinds, out = data.get("kinds") or [], {}
        if "vmm.uplink_port_profile" in kinds:
            out["uplinkPortProfiles"] = [
                {
                    **{k: v for k, v in r.items() if k != "sites"},
                    "LogicalNetworkDefinitions": [vmm.name("networkSite", i) for i in r["sites"]],
                }
                for r in vmm.all("uplink")
                if wanted(data, r["Name"])
            ]
        if "vmm.port_classification" in kinds:
            out["portClassifications"] = [
                {**r, "PortProfile": vmm.find("portProfile", name=r["Name"])}
                for r in vmm.all("classification")
                if wanted(data, r["Name"])
            ]
        return [out]
    return [
        {
            "set_uplink_port_profile": _uplink,
            "set_port_classification": _classification,
            "remove": _remove_port,
            "describe": describer({"vmm.uplink_port_profile": "uplink", "vmm.port_classification": "classification"}),
        }.get(str(op), unknown)(vmm, data)
    ]


def _uplink(vmm: State, data: dict[str, Any]) -> Record:
    sites = [
        vmm.need("networkSite", n, "network site", cmdlet="New-SCNativeUplinkPortProfile")["ID"]
        for n in data["networkSites"]
    ]
    values: Record = {
        "sites": sites,
        "EnableNetworkVirtualization": bool(data["networkVirtualization"]),
        "LBFOTeamMode": data["teamingMode"],
        "LBFOLoadBalancingAlgorithm": data["loadBalancing"],
    }
    if data.get("description") is not None:
        values["Description"] = str(data["description"])
    found = vmm.find("uplink", ident=data.get("id"), name=data["name"])
    if found is None:
        record = {"Name": data["name"], "Description": "", **values}
        return vmm.create("uplink", f"Create native uplink port profile {data['name']}", record)
    target = found
    return result(found, [vmm.job(f"Change native uplink port profile {found['Name']}", lambda: target.update(values))])


def _classification(vmm: State, data: dict[str, Any]) -> Record:
    found = vmm.find("classification", ident=data.get("id"), name=data["name"])
    if found is None:
        found = vmm.add("classification", {"Name": data["name"], "Description": str(data.get("description") or "")})
    else:
        found["Description"] = str(data.get("description") or "")
    guards: Record = {
        "EnableDhcpGuard": bool(data["dhcpGuard"]),
        "EnableRouterGuard": bool(data["routerGuard"]),
        "AllowMacAddressSpoofing": bool(data["macSpoofing"]),
    }
    if data.get("profileDescription") is not None:
        guards["Description"] = str(data["profileDescription"])
    profile = vmm.find("portProfile", name=found["Name"])
    if profile is None:
        created = vmm.create(
            "portProfile",
            f"Create virtual network adapter port profile {found['Name']}",
            {"Name": found["Name"], "Description": "", **guards},
        )
        return result(found, created["jobs"])
    target = profile
    return result(
        found, [vmm.job(f"Change virtual network adapter port profile {found['Name']}", lambda: target.update(guards))]
    )


def _remove_port(vmm: State, data: dict[str, Any]) -> Record:
    table = {"vmm.uplink_port_profile": "uplink", "vmm.port_classification": "classification"}.get(
        str(data.get("kind"))
    )
    if table is None:
        raise CmdletError("unknown kind", cmdlet="Write-Error", category="InvalidArgument")
    found = vmm.find(table, ident=data.get("id"), name=data.get("name"))
    if found is None:
        return result(None, [])
    ident = found["ID"]
    field = "uplinks" if table == "uplink" else "classifications"
    refuse_in_use(found, list(vmm.used_by("switch", lambda r: ident in r[field])), f"Remove-SC{table}")

    def gone() -> None:
        vmm.remove(table, found)
        profile = vmm.find("portProfile", name=found["Name"]) if table == "classification" else None
        if profile is not None:
            vmm.remove("portProfile", profile)

    return result(None, [vmm.job(f"Remove {found['Name']}", gone)])
