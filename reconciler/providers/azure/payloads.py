"""What a protected VM's writes send: pure functions from the spec's desired fields and ASR's own objects (the
protectable item, the protected item) to the request bodies, shaped on Microsoft's examples and on what Azure
PowerShell sends (``New-AzRecoveryServicesAsrReplicationProtectedItem``, ``Set-...``).

Enable protection (``HyperVReplicaAzureEnableProtectionInput``) takes from the protectable item what only ASR
knows: the VM's id on its Hyper-V host (``hvHostVmId``, the item's ``sourceItemId``), its name, its OS disk
(``vhdId``: the disk VMM marks ``OperatingSystem``, the one the spec names with ``osDisk``, or the only disk)
and every disk to replicate (``disksToInclude``). New protections replicate to managed disks by default
(``useManagedDisksForReplication``, with the disk type and the tenant's storage account as the cache,
``logStorageAccountId``): unmanaged VM disks were retired on 31 March 2026. ``replicateTo: StorageAccount`` keeps
the older replication to the storage account's page blobs, with failover still to managed disks
(``useManagedDisks: "true"``).

An update re-targets the VM's NICs. Services answer NICs in two shapes: the failover subnet on each IP
configuration (``ipConfigs[].recoverySubnetName``, API 2021 and later) or on the NIC itself
(``recoveryVMSubnetName``, no ``ipConfigs``); the update sends the subnet in the shape the NIC has, so it is
never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.errors import PermanentError

HVR_AZURE = "HyperVReplicaAzure"
MANAGED_DISKS = "ManagedDisks"
STORAGE_ACCOUNT = "StorageAccount"


def _details(item: Mapping[str, Any]) -> Mapping[str, Any]:
    props = item.get("properties") or {}
    return props.get("customDetails") or {}


def os_disk(item: Mapping[str, Any], *, vm: str, named: str | None) -> str | None:
    """The vhdId of the VM's OS disk on its protectable item: the disk named ``named`` (the spec's ``osDisk``),
    the one VMM marks OperatingSystem, or the only disk; None when the item lists no disks (ASR then picks it).
    Several disks and none marked: PermanentError asking for ``osDisk``."""
    disks = [d for d in _details(item).get("diskDetails") or [] if isinstance(d, Mapping) and d.get("vhdId")]
    if named:
        hit = next((d for d in disks if str(d.get("vhdName", "")).casefold() == named.casefold()), None)
        if hit is None:
            names = ", ".join(str(d.get("vhdName")) for d in disks) or "none"
            raise PermanentError(
                f"VM {vm!r}: its spec names OS disk {named!r}, but VMM reports the disks {names}: fix osDisk",
                code="OsDiskNotFound",
            )
        return str(hit["vhdId"])
    marked = [d for d in disks if str(d.get("vhdType", "")).casefold() == "operatingsystem"]
    if marked:
        return str(marked[0]["vhdId"])
    if len(disks) == 1:
        return str(disks[0]["vhdId"])
    if not disks:
        return None
    names = ", ".join(str(d.get("vhdName")) for d in disks)
    raise PermanentError(
        f"VM {vm!r} has {len(disks)} disks ({names}) and VMM marks none as the OS disk: name it in the VM's spec "
        "(osDisk: <VHD name>)",
        code="OsDiskAmbiguous",
    )


def enable_body(
    d: Mapping[str, Any], item: Mapping[str, Any], targets: Mapping[str, str], *, policy_id: str
) -> dict[str, Any]:
    """Enable protection of the protectable ``item`` under ``policy_id`` (``targets``: the ARM ids of the storage
    account, network and resource group, and the subnet's name)."""
    details = _details(item)
    vm = str((item.get("properties") or {}).get("friendlyName") or d["vm"])
    disks = [str(x["vhdId"]) for x in details.get("diskDetails") or [] if isinstance(x, Mapping) and x.get("vhdId")]
    specific: dict[str, Any] = {
        "instanceType": HVR_AZURE,
        "hvHostVmId": str(details.get("sourceItemId") or item.get("name")),
        "vmName": vm,
        "osType": d["osType"],
        "targetAzureVmName": d["vm"],
        "targetAzureNetworkId": targets["network"],
        "targetAzureSubnetId": targets["subnet"],
        "targetAzureV2ResourceGroupId": targets["resourceGroup"],
        "targetVmSize": d["targetVmSize"],
    }
    vhd = os_disk(item, vm=vm, named=d.get("osDisk"))
    if vhd is not None:
        specific["vhdId"] = vhd
    if disks:
        specific["disksToInclude"] = disks
    if d.get("replicateTo", MANAGED_DISKS) == MANAGED_DISKS:
        # The storage account is the cache the replicas pass through; the disks are managed disks of this type.
        specific |= {
            "useManagedDisksForReplication": "true",
            "logStorageAccountId": targets["storage"],
            "diskType": d.get("diskType") or "Standard_LRS",
        }
    else:
        # Replicas in the storage account's page blobs; at failover, managed disks are made from them.
        specific |= {"targetStorageAccountId": targets["storage"], "useManagedDisks": "true"}
    return {
        "properties": {"policyId": policy_id, "protectableItemId": str(item["id"]), "providerSpecificDetails": specific}
    }


def _nic(nic: Mapping[str, Any], subnet: str) -> dict[str, Any]:
    """One NIC's update input, the subnet in the shape the NIC is read in."""
    out: dict[str, Any] = {"nicId": nic.get("nicId"), "selectionType": "SelectedByUser"}
    configs = [c for c in nic.get("ipConfigs") or [] if isinstance(c, Mapping)]
    if configs:
        out["ipConfigs"] = [
            {"ipConfigName": c.get("name"), "isPrimary": c.get("isPrimary"), "recoverySubnetName": subnet}
            for c in configs
        ]
    else:  # the older shape: the subnet on the NIC itself
        out["recoveryVMSubnetName"] = subnet
    return out


def update_body(d: Mapping[str, Any], current: Mapping[str, Any], targets: Mapping[str, str]) -> dict[str, Any]:
    """Re-target the protected item ``current``: VM name and size, network, and each NIC's subnet."""
    specific_now = (current.get("properties") or {}).get("providerSpecificDetails") or {}
    nics = [n for n in specific_now.get("vmNics") or [] if isinstance(n, Mapping)]
    specific: dict[str, Any] = {
        "instanceType": HVR_AZURE,
        "recoveryAzureV2ResourceGroupId": targets["resourceGroup"],
    }
    if d.get("replicateTo", MANAGED_DISKS) == STORAGE_ACCOUNT:
        specific["useManagedDisks"] = "true"  # fail over to managed disks: unmanaged VM disks are retired
    return {
        "properties": {
            "recoveryAzureVMName": d["vm"],
            "recoveryAzureVMSize": d["targetVmSize"],
            "selectedRecoveryAzureNetworkId": targets["network"],
            "vmNics": [_nic(nic, d["targetSubnet"]) for nic in nics],
            "providerSpecificDetails": specific,
        }
    }


DISABLE_BODY: dict[str, Any] = {"properties": {"disableProtectionReason": "NotSpecified"}}
