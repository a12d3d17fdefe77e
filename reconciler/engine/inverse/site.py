"""A Site from the live objects of its scope: the inverse of ``expand._site`` (the vault, the hosts, the NVGRE
chain: logical networks with their sites and IP pools, uplink port profiles, port classifications, logical
switches with the hosts they are on, the default VM network)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.engine.inverse.doc import Generated
from reconciler.engine.inverse.live import Live
from reconciler.spec.models.seed import SeedSite

Selected = Callable[[str], bool]  # whether a kind's items are imported (--kind)


def site_document(seed: SeedSite, live: Live, *, selected: Selected) -> Generated:
    """The Site ``seed`` names, as the estate holds it (``selected`` leaves out optional items by kind)."""
    name = seed.name
    doc = Generated("Site", name, f"sites/{name}.yaml", {})
    spec = doc.spec
    spec["vmm"] = seed.vmm.model_dump(by_alias=True, exclude_defaults=True, mode="json")
    if seed.vcenter is not None:
        spec["vcenter"] = {"server": seed.vcenter}
    spec["recoveryVault"] = _vault(seed, live, doc)
    hosts = [_host(h) for h in live.data(name, "host.state")]
    groups = list(seed.host_groups) or sorted({h["hostGroup"] for h in hosts if h.get("hostGroup")})
    if not groups:
        groups = ["All Hosts"]
        doc.note(("hostGroups",), "no host found: VMM's root host group; name the site's host groups")
    spec["hostGroups"] = groups
    if hosts:
        spec["hosts"] = hosts
    # The NVGRE chain: each kind's items as the estate holds them, under the Site's key (none: the key left out).
    chain: tuple[tuple[str, str, Callable[[dict[str, Any]], dict[str, Any]]], ...] = (
        ("logicalNetworks", "vmm.logical_network", lambda ln: _logical_network(ln, live, name)),
        ("uplinkPortProfiles", "vmm.uplink_port_profile", _uplink),
        ("portClassifications", "vmm.port_classification", _classification),
        ("logicalSwitches", "vmm.logical_switch", lambda sw: _switch(sw, live, name)),
    )
    for key, kind, build in chain:
        if selected(kind):
            items = [live.marked(build(obj), name, kind, obj["name"]) for obj in live.data(name, kind)]
            if items:
                spec[key] = items
    default = live.data(name, "vmm.vm_network")
    if default and selected("vmm.vm_network"):
        spec["defaultVmNetwork"] = live.marked(_default_network(default[0]), name, "vmm.vm_network", default[0]["name"])
    return doc


def _vault(seed: SeedSite, live: Live, doc: Generated) -> dict[str, Any]:
    v = seed.recovery_vault
    found = live.named(seed.name, "asr.vault", v.name)
    location = (found.data.get("location") if found is not None else None) or v.location
    if location is None:
        location = "westus"
        doc.note(("recoveryVault", "location"), "the vault was not found and the seed gives no location: check it")
    vault = {
        "subscriptionId": v.subscription_id,
        "resourceGroup": v.resource_group,
        "name": found.data.get("name", v.name) if found is not None else v.name,
        "location": location,
    }
    return live.marked(vault, seed.name, "asr.vault", v.name)


def _host(data: dict[str, Any]) -> dict[str, Any]:
    host: dict[str, Any] = {"name": data["name"], "platform": data.get("platform", "hyperv")}
    host["hostGroup"] = data.get("hostGroup") or "All Hosts"
    if data.get("bmcAddress") and data.get("vendor"):  # backends that know the BMC say so
        host["bmc"] = {"address": data["bmcAddress"], "vendor": data["vendor"]}
    return host


def _logical_network(ln: dict[str, Any], live: Live, site: str) -> dict[str, Any]:
    name = ln["name"]
    sites = [
        s for s in live.data(site, "vmm.network_site") if str(s.get("logicalNetwork", "")).casefold() == name.casefold()
    ]
    out: dict[str, Any] = {"name": name, "networkVirtualization": bool(ln.get("networkVirtualization", False))}
    if sites:
        out["sites"] = [live.marked(_network_site(s, live, site), site, "vmm.network_site", s["name"]) for s in sites]
    return out


def _network_site(ns: dict[str, Any], live: Live, site: str) -> dict[str, Any]:
    pools = [
        p for p in live.data(site, "vmm.ip_pool") if str(p.get("networkSite", "")).casefold() == ns["name"].casefold()
    ]
    out: dict[str, Any] = {
        "name": ns["name"],
        "hostGroups": list(ns.get("hostGroups") or []),
        "subnets": [{"subnet": s["subnet"], "vlan": s.get("vlan", 0)} for s in ns.get("subnets") or []],
    }
    if pools:
        out["ipPools"] = [live.marked(_pool(p), site, "vmm.ip_pool", p["name"]) for p in pools]
    return out


def _pool(p: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": p["name"],
        "subnet": p["subnet"],
        "range": {"start": p["rangeStart"], "end": p["rangeEnd"]},
    }
    if p.get("gateway"):
        out["gateway"] = p["gateway"]
    out["dnsServers"] = list(p.get("dnsServers") or [])
    return out


def _uplink(u: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": u["name"],
        "sites": list(u.get("networkSites") or []),
        "networkVirtualization": bool(u.get("networkVirtualization", False)),
        "teaming": {
            "mode": u.get("teamingMode", "SwitchIndependent"),
            "loadBalancing": u.get("loadBalancing", "HyperVPort"),
        },
    }


def _classification(pc: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": pc["name"],
        "description": pc.get("description", ""),
        "dhcpGuard": bool(pc.get("dhcpGuard", False)),
        "routerGuard": bool(pc.get("routerGuard", False)),
        "macSpoofing": bool(pc.get("macSpoofing", False)),
    }


def _switch(sw: dict[str, Any], live: Live, site: str) -> dict[str, Any]:
    hosts = [
        h["host"]
        for h in live.data(site, "vmm.host_switch")
        if str(h.get("logicalSwitch", "")).casefold() == sw["name"].casefold()
    ]
    return {
        "name": sw["name"],
        "uplinkMode": sw["uplinkMode"],
        "sriov": bool(sw.get("sriov", False)),
        "uplinkPortProfiles": list(sw.get("uplinkPortProfiles") or []),
        "portClassifications": list(sw.get("portClassifications") or []),
        "hosts": hosts,
    }


def _default_network(n: dict[str, Any]) -> dict[str, Any]:
    subnets = n.get("subnets") or [{}]
    return {"name": n["name"], "logicalNetwork": n["logicalNetwork"], "subnet": subnets[0].get("subnet")}
