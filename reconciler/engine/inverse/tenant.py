"""A Tenant from the live objects of its scope: the inverse of ``expand._tenant`` (its cloud, VM networks, VMs
with their memory and protection, and the recovery block: resource group, storage account, virtual network,
replication policy, network mappings). The plan comes from the seed: Azure Pack's records, not the estate's."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.engine.inverse import profiles
from reconciler.engine.inverse.doc import Generated
from reconciler.engine.inverse.live import Live
from reconciler.spec.models.seed import SeedTenant
from reconciler.spec.models.tenant import DRILL_SUFFIX, VNET_NAME_MAX

Selected = Callable[[str], bool]
FALLBACK_VM_SIZE = "Standard_D2s_v3"


@dataclass(frozen=True)
class SiteFacts:
    """What a tenant's document needs from its site: the vault's region (the recovery region by default)."""

    vault_location: str


# Placeholders for what a provisional document (``provisional=True``) must hold to validate, when discovery has
# not found it yet: such documents only tell the backends where to look next (a tenant's subscription, cloud and
# recovery resource group), never reach a file.
_PROVISIONAL_CLOUD = {"name": "-", "hostGroups": ["-"], "logicalNetworks": ["-"]}
_PROVISIONAL_RECOVERY = {
    "storageAccount": {"name": "provisional0"},
    "virtualNetwork": {
        "name": "provisional",
        "addressSpace": ["10.0.0.0/8"],
        "subnets": [{"name": "p", "prefix": "10.0.0.0/24"}],
    },
    "policy": {"name": "provisional"},
    "defaultTargetVmSize": FALLBACK_VM_SIZE,
}


def tenant_document(
    seed: SeedTenant,
    live: Live,
    *,
    site: SiteFacts,
    memory: Mapping[profiles.MemoryKey, str],
    selected: Selected,
    provisional: bool = False,
) -> tuple[Generated | None, str]:
    """The Tenant ``seed`` names, as the estate holds it; None and why when it has no VMM cloud to import.
    ``provisional``: a document for the next discovery round, with placeholders where nothing was found yet."""
    scope = seed.name
    clouds = live.data(scope, "vmm.cloud")
    if seed.cloud is not None:
        clouds = [c for c in clouds if str(c.get("name", "")).casefold() == seed.cloud.casefold()]
    if len(clouds) != 1 and provisional:
        clouds = [{**_PROVISIONAL_CLOUD, "name": seed.cloud or "-"}]
    if len(clouds) != 1:
        found = "no VMM cloud" if not clouds else f"{len(clouds)} VMM clouds"
        return None, f"tenant {scope}: {found} in its scope; name its cloud in the seed (tenants[].cloud)"
    doc = Generated("Tenant", scope, f"tenants/{scope}.yaml", {})
    spec = doc.spec
    if seed.display_name:
        spec["displayName"] = seed.display_name
    spec["site"] = seed.site
    spec["plan"] = {}  # filled last: its defaults come from what the recovery block found
    spec["cloud"] = live.marked(_cloud(clouds[0]), scope, "vmm.cloud", str(clouds[0]["name"]))
    if selected("vmm.vm_network"):
        networks = [
            live.marked(_vm_network(n), scope, "vmm.vm_network", n["name"]) for n in live.data(scope, "vmm.vm_network")
        ]
        if networks:
            spec["vmNetworks"] = networks
    recovery = _recovery(seed, live, site, doc) if selected("asr") or selected("azure") else None
    if recovery is None and provisional:
        group = _group(seed, live)
        recovery = {"resourceGroup": group, **_PROVISIONAL_RECOVERY} if group else None
    if recovery is not None:
        spec["recovery"] = recovery
    vms = _vms(live, scope, memory, recovery, selected)
    if vms:
        spec["vms"] = vms
    spec["plan"] = _plan(seed, recovery, site, live, doc)
    return doc, ""


def _cloud(c: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": c["name"],
        "hostGroups": list(c.get("hostGroups") or []),
        "logicalNetworks": list(c.get("logicalNetworks") or []),
    }
    if c.get("capacity"):
        out["capacity"] = dict(c["capacity"])
    return out


def _vm_network(n: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": n["name"],
        "logicalNetwork": n["logicalNetwork"],
        "isolation": n.get("isolation", "WindowsNetworkVirtualization"),
        "subnets": [{"name": s["name"], "subnet": s["subnet"]} for s in n.get("subnets") or []],
    }


def _most(values: list[Any]) -> Any:
    """The most common value (the first of equals), or None."""
    return Counter(values).most_common(1)[0][0] if values else None


def _recovery(seed: SeedTenant, live: Live, site: SiteFacts, doc: Generated) -> dict[str, Any] | None:
    """The recovery block, when the tenant has a policy, a storage account and a virtual network."""
    scope = seed.name
    protected = live.data(scope, "asr.protected_item")
    mappings = live.data(scope, "asr.network_mapping")
    accounts, networks = live.data(scope, "azure.storage_account"), live.data(scope, "azure.virtual_network")
    policies = live.data(scope, "asr.replication_policy")
    associations = live.data(scope, "asr.policy_association")
    if not (policies and accounts and networks):
        return None
    wanted = _most([a.get("policy") for a in associations])
    policy = next((p for p in policies if p["name"] == wanted), policies[0])
    account = next((a for a in accounts if a["name"] == policy.get("storageAccount")), accounts[0])
    target = _most([p.get("targetNetwork") for p in protected] + [m.get("azureNetwork") for m in mappings])
    network = next((n for n in networks if n["name"] == target), networks[0])
    group = _group(seed, live) or account.get("resourceGroup")
    out: dict[str, Any] = live.marked({"resourceGroup": group}, scope, "azure.resource_group", str(group))
    if str(account.get("location", site.vault_location)).casefold() != site.vault_location.casefold():
        out["location"] = account["location"]
    storage = {"name": account["name"], "sku": account.get("sku", "Standard_GRS")}
    out["storageAccount"] = live.marked(storage, scope, "azure.storage_account", account["name"])
    out["virtualNetwork"] = {
        "name": network["name"],
        "addressSpace": list(network.get("addressSpace") or []),
        "subnets": [{"name": s["name"], "prefix": s["prefix"]} for s in network.get("subnets") or []],
    }
    out["policy"] = live.marked(_policy(policy), scope, "asr.replication_policy", policy["name"])
    out["virtualNetwork"] = live.marked(out["virtualNetwork"], scope, "azure.virtual_network", network["name"])
    subnet = _most([p.get("targetSubnet") for p in protected if p.get("targetSubnet")])
    first = subnet or next((s["name"] for s in network.get("subnets") or []), None)
    if mappings:
        out["networkMappings"] = [
            live.marked(
                {"vmNetwork": m["vmNetwork"], "azureNetwork": m.get("azureNetwork") or network["name"]}
                | {"azureSubnet": first},
                scope,
                "asr.network_mapping",
                m["vmNetwork"],
            )
            for m in mappings
        ]
    size = _most([p.get("targetVmSize") for p in protected if p.get("targetVmSize")])
    if size is None:
        size = (seed.plan.allowed_vm_sizes or (FALLBACK_VM_SIZE,))[0]
        doc.note(("recovery", "defaultTargetVmSize"), "no protected VM to read it from: the plan's first size")
    out["defaultTargetVmSize"] = size
    target = _most([p.get("replicateTo") for p in protected if p.get("replicateTo")])
    if target is not None and target != "ManagedDisks":
        out["replicateTo"] = target
    disk = _most([p.get("diskType") for p in protected if p.get("diskType")])
    if disk is not None and disk != "Standard_LRS":
        out["diskType"] = disk
    plans = [
        live.marked(
            {"name": p["name"], "groups": [{"vms": list(g)} for g in p.get("groups") or []]},
            scope,
            "asr.recovery_plan",
            p["name"],
        )
        for p in live.data(scope, "asr.recovery_plan")
        if p.get("groups")
    ]
    if plans:
        out["plans"] = plans
    drill = _drill_network(network, networks)
    if drill is not None:
        out["drill"] = live.marked({}, scope, "azure.virtual_network", drill)
    return out


def _drill_network(recovery: dict[str, Any], networks: list[dict[str, Any]]) -> str | None:
    """The drills' test network (docs/drills.md) by name, when the resource group holds one by its default name
    (``<recovery VNet>-drill``, so the spec says ``drill: {}``). Another network is not guessed to be one."""
    default = str(recovery["name"])[: VNET_NAME_MAX - len(DRILL_SUFFIX)] + DRILL_SUFFIX
    found = next((n for n in networks if str(n.get("name", "")).casefold() == default.casefold()), None)
    return str(found["name"]) if found is not None else None


def _group(seed: SeedTenant, live: Live) -> str | None:
    """The tenant's recovery resource group: the seed's, else the one its ASR objects name, else its only one."""
    scope = seed.name
    named = [m.get("azureResourceGroup") for m in live.data(scope, "asr.network_mapping")]
    named += [p.get("targetResourceGroup") for p in live.data(scope, "asr.protected_item")]
    groups = live.data(scope, "azure.resource_group")
    only = groups[0]["name"] if len(groups) == 1 else None
    found = seed.recovery_resource_group or _most([n for n in named if n]) or only
    return str(found) if found else None


def _policy(p: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": p["name"],
        "replicationIntervalSeconds": p.get("replicationIntervalSeconds", 300),
        "recoveryPointHours": p.get("recoveryPointHours", 24),
        "appConsistentSnapshotHours": p.get("appConsistentSnapshotHours", 0),
    }
    if p.get("startTime"):
        out["startTime"] = p["startTime"]
    return out


def _vms(
    live: Live,
    scope: str,
    memory: Mapping[profiles.MemoryKey, str],
    recovery: dict[str, Any] | None,
    selected: Selected,
) -> list[dict[str, Any]]:
    """Every VM the estate knows in the tenant's scope: its memory (a profile's name or inline) and protection."""
    protected = {p["vm"].casefold(): p for p in live.data(scope, "asr.protected_item")} if recovery else {}
    memories = {m.address.name.casefold(): m for m in live.of(scope, "hyperv.vm_memory")}
    names = {m.address.name.casefold(): m.address.name for m in memories.values()}
    names.update({key: p["vm"] for key, p in protected.items()})
    default_size = recovery["defaultTargetVmSize"] if recovery else None
    vms = []
    for key in sorted(names):
        vm: dict[str, Any] = {"name": names[key]}
        item = protected.get(key) if selected("asr.protected_item") else None
        vm["protect"] = item is not None
        if item is not None:
            vm["osType"] = item.get("osType", "Windows")
        found = memories.get(key)
        if found is not None and selected("hyperv.vm_memory"):
            setting = profiles.memory_key(found.data)
            if setting in memory:
                vm["memoryProfile"] = memory[setting]
            else:
                vm["memory"] = profiles.memory_settings(setting)
        if item is not None and item.get("targetVmSize") and item["targetVmSize"] != default_size:
            vm["targetVmSize"] = item["targetVmSize"]
        vms.append(live.marked(vm, scope, "asr.protected_item", names[key]) if item is not None else vm)
    return vms


def _plan(
    seed: SeedTenant, recovery: dict[str, Any] | None, site: SiteFacts, live: Live, doc: Generated
) -> dict[str, Any]:
    p = seed.plan
    plan: dict[str, Any] = {"name": p.name, "azure": p.azure.model_dump(by_alias=True, mode="json")}
    regions = list(p.allowed_regions)
    if not regions:
        regions = [str((recovery or {}).get("location") or site.vault_location)]
        doc.note(("plan", "allowedRegions"), "not in the estate: the recovery region; Azure Pack's plan decides")
    sizes = list(p.allowed_vm_sizes)
    if not sizes:
        sizes = sorted({str(s) for s in _target_sizes(seed.name, live, recovery)}) or [FALLBACK_VM_SIZE]
        doc.note(("plan", "allowedVmSizes"), "not in the estate: the sizes its VMs fail over to; Azure Pack decides")
    plan["allowedRegions"], plan["allowedVmSizes"] = regions, sizes
    if p.allowed_os_images:
        plan["allowedOsImages"] = list(p.allowed_os_images)
    return plan


def _target_sizes(scope: str, live: Live, recovery: dict[str, Any] | None) -> list[str]:
    if recovery is None:
        return []
    return [recovery["defaultTargetVmSize"]] + [
        p["targetVmSize"] for p in live.data(scope, "asr.protected_item") if p.get("targetVmSize")
    ]
