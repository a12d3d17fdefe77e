"""ARM JSON (the wire shape the SDK returns) -> the normalized objects the engine diffs against the specs.

Pure functions, one per kind, so fixture files can pin them: ``Normalized(name, data, status, owned)``.
What they settle, so that a converged estate plans no change:
- read and write field names differ (a policy is written with ``recoveryPointHistoryDuration`` and read
  back as ``recoveryPointHistoryDurationInHours``);
- ids come back in any case and as full ARM ids where the spec names an object (the policy's storage
  account, a protected item's network): names are taken from the ids;
- the vault's SKU reads back as RS0 (the kind's alias maps it to Standard);
- locations come back lower-case without spaces.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.providers.azure.arm import name_of, parse

MANAGED_BY = "managed-by"
TOOL = "reconciler"
TAG_TENANT = "tenant"
TAG_SITE = "site"
TAG_PRUNE = "reconciler-prune"
TAG_PROTECT = "reconciler-protect"
RECOVERY_FABRIC = "Microsoft Azure"


@dataclass
class Normalized:
    name: str
    data: dict[str, Any]
    status: dict[str, Any] = field(default_factory=dict)
    owned: bool = False
    scope: str | None = None  # the tenant (or site) the object belongs to, when the object says so


def _props(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    props = obj.get("properties")
    return props if isinstance(props, Mapping) else {}


def _sub(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def location(value: Any) -> str:
    return str(value or "").replace(" ", "").casefold()


def tags_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """Tags by casefolded name (ARM tag names are case-insensitive)."""
    tags = obj.get("tags")
    return {str(k).casefold(): str(v) for k, v in tags.items()} if isinstance(tags, Mapping) else {}


def ownership(obj: Mapping[str, Any], scope_tag: str) -> tuple[bool, dict[str, Any], str | None]:
    """Whether the tool owns a tagged object, its marker, and the tenant or site its tags name."""
    tags = tags_of(obj)
    owned = tags.get(MANAGED_BY, "").casefold() == TOOL
    if not owned:
        return False, {}, tags.get(scope_tag)
    marker = {
        "managedBy": TOOL,
        "prune": tags.get(TAG_PRUNE, "false").casefold() == "true",
        "protect": tags.get(TAG_PROTECT, "false").casefold() == "true",
    }
    return True, {"marker": marker}, tags.get(scope_tag)


def owner_tags(*, scope_tag: str, scope: str, prune: bool, protect: bool) -> dict[str, str]:
    """The tags the tool writes on what it creates (and keeps in step with the spec's lifecycle)."""
    return {
        MANAGED_BY: TOOL,
        scope_tag: scope,
        TAG_PRUNE: str(prune).lower(),
        TAG_PROTECT: str(protect).lower(),
    }


def _tagged(obj: Mapping[str, Any], scope_tag: str, **fields: Any) -> Normalized:
    """A tagged ARM resource: where it lives (subscription, resource group, from its id), its name and
    region, the kind's own ``fields``, and the ownership its tags say."""
    ref = parse(obj.get("id"))
    owned, status, scope = ownership(obj, scope_tag)
    data: dict[str, Any] = {"subscriptionId": ref.subscription if ref else None}
    if "/providers/" in str(obj.get("id", "")).casefold():  # in a resource group (a group itself is not)
        data["resourceGroup"] = ref.resource_group if ref else None
    data |= {"name": obj.get("name"), "location": location(obj.get("location")), **fields}
    state = _props(obj).get("provisioningState")
    return Normalized(
        name=str(obj.get("name")),
        data=data,
        status={**status, "provisioningState": state} if state is not None else status,
        owned=owned,
        scope=scope,
    )


def vault(obj: Mapping[str, Any]) -> Normalized:
    return _tagged(obj, TAG_SITE, sku=_sub(obj, "sku").get("name"))


def resource_group(obj: Mapping[str, Any]) -> Normalized:
    """A tenant's resource group (tagged with the tenant), or a site's vault resource group (with the site)."""
    n = _tagged(obj, TAG_TENANT)
    if n.scope is None:
        n.scope = tags_of(obj).get(TAG_SITE)
    return n


def storage_account(obj: Mapping[str, Any]) -> Normalized:
    return _tagged(obj, TAG_TENANT, sku=_sub(obj, "sku").get("name"))


def virtual_network(obj: Mapping[str, Any]) -> Normalized:
    props = _props(obj)
    subnets = []
    for sn in props.get("subnets") or []:
        sp = _props(sn)
        prefix = sp.get("addressPrefix") or next(iter(sp.get("addressPrefixes") or []), None)
        subnets.append({"name": sn.get("name"), "prefix": prefix})
    n = _tagged(
        obj,
        TAG_TENANT,
        addressSpace=list(_sub(props, "addressSpace").get("addressPrefixes") or []),
        subnets=subnets,
    )
    # A drill refuses a test network that is peered with anything: it would not be isolated (docs/drills.md).
    n.status["peerings"] = [str(p.get("name")) for p in props.get("virtualNetworkPeerings") or []]
    return n


def replication_policy(obj: Mapping[str, Any], vault_name: str) -> Normalized | None:
    """A HyperVReplicaAzure policy (None for a policy of another replication scenario)."""
    props = _props(obj)
    details = props.get("providerSpecificDetails") or {}
    if str(details.get("instanceType", "")).casefold() != "hypervreplicaazure":
        return None
    data: dict[str, Any] = {
        "vault": vault_name,
        "name": props.get("friendlyName") or obj.get("name"),
        "replicationIntervalSeconds": details.get("replicationInterval"),
        "recoveryPointHours": details.get("recoveryPointHistoryDurationInHours"),
        "appConsistentSnapshotHours": details.get("applicationConsistentSnapshotFrequencyInHours"),
        "storageAccount": name_of(details.get("activeStorageAccountId")),
    }
    start = details.get("onlineReplicationStartTime")
    if start:
        # Written as HH:MM; a service answering HH:MM:SS means the same time.
        data["startTime"] = str(start)[:5] if re.fullmatch(r"\d\d:\d\d:00", str(start)) else start
    storage = parse(details.get("activeStorageAccountId"))
    return Normalized(
        name=str(obj.get("name")),
        data=data,
        status={"storageSubscription": storage.subscription if storage else None},
    )


def policy_association(obj: Mapping[str, Any]) -> Normalized | None:
    """A container mapping to Azure, keyed by its cloud (None for a mapping to another site)."""
    props = _props(obj)
    if str(props.get("targetProtectionContainerId", "")).casefold() != RECOVERY_FABRIC.casefold():
        return None
    cloud = str(props.get("sourceProtectionContainerFriendlyName") or "")
    return Normalized(
        name=cloud,
        data={"cloud": cloud, "policy": props.get("policyFriendlyName") or name_of(props.get("policyId"))},
        status={"state": props.get("state"), "health": props.get("health"), "mapping": obj.get("name")},
    )


def network_mapping(obj: Mapping[str, Any]) -> Normalized | None:
    """A VMM-to-Azure network mapping, keyed by its VM network (None for another scenario)."""
    props = _props(obj)
    if str(props.get("recoveryFabricFriendlyName", RECOVERY_FABRIC)).casefold() != RECOVERY_FABRIC.casefold():
        return None
    target = parse(props.get("recoveryNetworkId"))
    network = str(props.get("primaryNetworkFriendlyName") or "")
    return Normalized(
        name=network,
        data={
            "vmNetwork": network,
            "azureSubscriptionId": target.subscription if target else None,
            "azureResourceGroup": target.resource_group if target else None,
            "azureNetwork": target.name if target else None,
        },
        status={"state": props.get("state"), "mapping": obj.get("name")},
    )


def _recovery_subnet(nics: list[Mapping[str, Any]]) -> str | None:
    """The failover subnet of the first NIC that has one: on the NIC's primary IP configuration
    (``vmNics[].ipConfigs[].recoverySubnetName``), or ``vmNics[].recoveryVMSubnetName`` on older API
    versions."""
    for nic in nics:
        configs = [c for c in nic.get("ipConfigs") or [] if isinstance(c, Mapping)]
        primary = next((c for c in configs if c.get("isPrimary")), configs[0] if configs else {})
        subnet = primary.get("recoverySubnetName") or nic.get("recoveryVMSubnetName")
        if subnet:
            return str(subnet)
    return None


def _number(value: Any) -> float:
    try:
        return float(str(value or 0))
    except ValueError:
        return 0.0


def _disk_size_mb(details: Mapping[str, Any]) -> int:
    """What the VM replicates: the sum of its disks' sizes (initial replication copies all of it again)."""
    disks = [d for d in details.get("azureVmDiskDetails") or [] if isinstance(d, Mapping)]
    if disks:
        return int(sum(_number(d.get("maxSizeMB")) for d in disks))
    managed = [d for d in details.get("protectedManagedDisks") or [] if isinstance(d, Mapping)]
    return int(sum(_number(d.get("diskSizeInGB")) * 1024 for d in managed))


def _replica(details: Mapping[str, Any]) -> dict[str, Any]:
    """Where the VM replicates: to managed disks (of a disk type, the storage account a cache) or to the storage
    account's page blobs."""
    managed = [d for d in details.get("protectedManagedDisks") or [] if isinstance(d, Mapping)]
    if managed or (details.get("recoveryAzureLogStorageAccountId") and not details.get("recoveryAzureStorageAccount")):
        types = [d.get("targetDiskAccountType") or d.get("replicaDiskType") for d in managed]
        disk_type = next((str(t) for t in types if t), None)
        return {
            "replicateTo": "ManagedDisks",
            "diskType": disk_type,
            "storageAccount": name_of(details.get("recoveryAzureLogStorageAccountId")),
        }
    return {"replicateTo": "StorageAccount", "storageAccount": name_of(details.get("recoveryAzureStorageAccount"))}


def protected_item(obj: Mapping[str, Any]) -> Normalized | None:
    """A VM protected to Azure (HyperVReplicaAzure), keyed by the VM's name."""
    props = _props(obj)
    details = props.get("providerSpecificDetails") or {}
    if str(details.get("instanceType", "")).casefold() != "hypervreplicaazure":
        return None
    nics = details.get("vmNics") or []
    subnet = _recovery_subnet(nics)
    os_details = details.get("oSDetails") or details.get("osDetails") or {}
    vm = str(props.get("friendlyName") or "")
    replica = _replica(details)
    data: dict[str, Any] = {
        "vm": vm,
        "cloud": props.get("primaryProtectionContainerFriendlyName"),
        "policy": props.get("policyFriendlyName") or name_of(props.get("policyId")),
        "storageAccount": replica.pop("storageAccount"),
        "osType": os_details.get("osType"),
        "targetVmSize": details.get("recoveryAzureVMSize"),
        "targetResourceGroup": name_of(details.get("recoveryAzureResourceGroupId")),
        "targetNetwork": name_of(details.get("selectedRecoveryAzureNetworkId")),
        "targetSubnet": subnet,
        **replica,
    }
    return Normalized(
        name=vm,
        data=data,
        status={
            "protectionState": props.get("protectionState"),
            "replicationHealth": props.get("replicationHealth"),
            "item": obj.get("name"),
            "diskSizeMB": _disk_size_mb(details),
            # What drift's rpo check and a drill read: the newest recovery point, ASR's RPO, a test failover's state.
            "lastRecoveryPoint": details.get("lastRecoveryPointReceived") or details.get("lastReplicatedTime"),
            "rpoSeconds": details.get("rpoInSeconds"),
            "testFailoverState": props.get("testFailoverState"),
        },
    )


def parse_time(value: Any) -> datetime.datetime | None:
    """An ISO 8601 time from ARM (``Z`` or an offset; none: UTC), or None."""
    if not value:
        return None
    try:
        when = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=datetime.UTC)


def _days_until(value: Any, now: datetime.datetime) -> int | None:
    """Whole days from ``now`` to the time ``value`` (negative: past), or None."""
    when = parse_time(value)
    return (when - now).days if when is not None else None


def _minutes_since(value: Any, now: datetime.datetime) -> int | None:
    when = parse_time(value)
    return int((now - when).total_seconds() // 60) if when is not None else None


def recovery_services_provider(obj: Mapping[str, Any], now: datetime.datetime) -> dict[str, Any]:
    """The ASR Provider installed on a VMM server, as drift reports it: version, support, expiry, heartbeat and
    connection (``now``: the time of the read, for how far off the expiry and the last heartbeat are)."""
    props = _props(obj)
    version = _sub(props, "providerVersionDetails")
    expiry = version.get("expiryDate") or props.get("providerVersionExpiryDate")
    return {
        "name": props.get("machineName") or props.get("friendlyName") or obj.get("name"),
        "fabric": props.get("fabricFriendlyName"),
        "version": version.get("version") or props.get("providerVersion"),
        "versionState": version.get("status") or props.get("providerVersionState"),
        "expiry": expiry,
        "expiresInDays": _days_until(expiry, now),
        "lastHeartbeat": props.get("lastHeartBeat"),
        "heartbeatAgeMinutes": _minutes_since(props.get("lastHeartBeat"), now),
        "connection": props.get("connectionStatus"),
    }


def vmm_server(obj: Mapping[str, Any], vault_name: str, providers: list[dict[str, Any]]) -> Normalized | None:
    """A VMM server registered with the vault (a fabric of type VMM), with the ASR Providers on it (None for a
    fabric of another kind: Azure, VMware, a Hyper-V site)."""
    props = _props(obj)
    if str(_sub(props, "customDetails").get("instanceType", "")).casefold() != "vmm":
        return None
    server = str(props.get("friendlyName") or obj.get("name"))
    mine = [p for p in providers if str(p.get("fabric") or "").casefold() in (server.casefold(), "")]
    return Normalized(
        name=server,
        data={"server": server, "vault": vault_name},
        status={"fabric": obj.get("name"), "health": props.get("health"), "providers": mine},
    )


def recovery_plan(obj: Mapping[str, Any], vms: Mapping[str, tuple[str, str]]) -> Normalized | None:
    """A recovery plan failing VMM VMs over to Azure: its boot groups as lists of VM names (``vms``: protected
    item id casefolded -> (VM name, cloud)); the cloud of its first VM names its tenant (``scope``). None for a
    plan of another scenario."""
    props = _props(obj)
    if str(props.get("recoveryFabricId", RECOVERY_FABRIC)).casefold() != RECOVERY_FABRIC.casefold():
        return None
    groups: list[list[str]] = []
    clouds: list[str] = []
    for group in props.get("groups") or []:
        if str((group or {}).get("groupType", "")).casefold() != "boot":
            continue  # the Shutdown and Failover groups ASR adds to every plan
        names = []
        for item in group.get("replicationProtectedItems") or []:
            vm, cloud = vms.get(str((item or {}).get("id", "")).casefold(), (name_of(item.get("id")) or "", ""))
            names.append(vm)
            clouds.append(cloud)
        groups.append(sorted(names, key=str.casefold))
    name = str(props.get("friendlyName") or obj.get("name"))
    return Normalized(
        name=name,
        data={"name": name, "groups": groups},
        status={
            "currentScenario": _sub(props, "currentScenario").get("scenarioName"),
            "currentScenarioStatus": props.get("currentScenarioStatus"),
            "lastTestFailoverTime": props.get("lastTestFailoverTime"),
            "cloud": next((c for c in clouds if c), None),
        },
    )
