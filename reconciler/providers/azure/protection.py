"""Protected items (``asr.protected_item``): a tenant's VM replicated to Azure (HyperVReplicaAzure), through
``SiteRecoveryManagementClient``.

Enabling protection builds its payload from the spec and the vault: the VM's protectable item and OS disk
are looked up in its cloud's container, the storage account the policy names is passed again, and the target
network, subnet and resource group come from the tenant's recovery section. An update re-targets the VM's
NICs; disabling protection is a pruned delete. The only Azure kind that may be replaced (a VM moving to
another policy or storage account): protection is disabled and enabled again, losing no data of the tenant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.addresses import Address
from reconciler.core.errors import PermanentError
from reconciler.core.resources import Observed, Resource
from reconciler.providers.azure import arm, normalize
from reconciler.providers.azure.context import TenantRef, VaultRef
from reconciler.providers.azure.handler import AsrHandler, Step
from reconciler.providers.azure.normalize import Normalized
from reconciler.providers.azure.session import Family, Found, list_all, plain
from reconciler.providers.base import Progress


class ProtectionHandler(AsrHandler):
    kinds = frozenset({"asr.protected_item"})
    replaceable = True

    def list_vault(self, vault: VaultRef, asr: Any) -> list[Found]:
        return list_all(
            f"list protected items in vault {vault.name}",
            lambda: asr.replication_protected_items.list(vault.resource_group, vault.name),
            normalize.protected_item,
        )

    def tenant_of(self, site: str, n: Normalized) -> str | None:
        return self.session.context.tenant_of_cloud(site, str(n.data.get("cloud") or ""))

    def get_in_vault(self, resource: Resource, tenant: TenantRef, vault: VaultRef) -> Found | None:
        cloud = str(resource.desired.get("cloud") or tenant.cloud)
        fabric, container = self.topology.container(vault, cloud)
        obj = self._in_container(vault, fabric, container, resource.address.name, protected=True)
        n = normalize.protected_item(obj) if obj is not None else None
        return (obj, n) if obj is not None and n is not None else None

    def _in_container(
        self, vault: VaultRef, fabric: str, container: str, vm: str, *, protected: bool
    ) -> dict[str, Any] | None:
        """The VM's protected item (``protected``) or protectable item in the cloud's container, or None: one
        list call in the container."""
        asr = self.session.vault_client(Family.ASR, vault)
        ops = asr.replication_protected_items if protected else asr.replication_protectable_items
        what = "protected" if protected else "protectable"
        with arm.boundary(f"list {what} VMs of container {container}"):
            for item in ops.list_by_replication_protection_containers(
                vault.resource_group, vault.name, fabric, container
            ):
                obj = plain(item)
                if arm.same(str((obj.get("properties") or {}).get("friendlyName")), vm):
                    return obj
        return None

    def _protectable(self, vault: VaultRef, fabric: str, container: str, vm: str) -> dict[str, Any]:
        found = self._in_container(vault, fabric, container, vm, protected=False)
        if found is None:
            raise PermanentError(
                f"VM {vm!r} is not a protectable item of its cloud in vault {vault.name}: is it in the cloud, and "
                "has VMM synchronised it?",
                code="ProtectableItemNotFound",
            )
        return found

    def _targets(self, resource: Resource) -> dict[str, str]:
        """The ARM ids the VM fails over to: storage account, network, subnet, resource group."""
        d = resource.desired
        tenant = self.session.tenant(resource.tenant)
        network_id = arm.virtual_network_id(tenant.subscription, d["targetResourceGroup"], d["targetNetwork"])
        return {
            "storage": self.storage_id(tenant, d["storageAccount"]),
            "network": network_id,
            "subnet": f"{network_id}/subnets/{d['targetSubnet']}",
            "resourceGroup": arm.resource_group_id(tenant.subscription, d["targetResourceGroup"]),
        }

    def put(self, resource: Resource, step: Step, report: Progress) -> None:
        vault, asr = self.vault_of(resource)
        vm = resource.desired["vm"]
        fabric, container = self.topology.container(vault, resource.desired["cloud"])
        ops = asr.replication_protected_items
        targets = self._targets(resource)
        current = self._in_container(vault, fabric, container, vm, protected=True)
        if current is None:
            item = self._protectable(vault, fabric, container, vm)
            name = str(item["name"])
            body = _enable_body(
                resource.desired, item, targets, policy_id=arm.policy_id(vault.id, resource.desired["policy"])
            )
            self.jobs.wait(
                f"enable protection of {vm}",
                lambda hook: ops.begin_create(
                    vault.resource_group, vault.name, fabric, container, name, body, raw_response_hook=hook
                ),
                report,
                vault,
            )
        else:
            name = str(current["name"])
            if not step.lifecycle_only:
                body = _update_body(resource.desired, current, targets)
                self.jobs.wait(
                    f"update protection of {vm}",
                    lambda hook: ops.begin_update(
                        vault.resource_group, vault.name, fabric, container, name, body, raw_response_hook=hook
                    ),
                    report,
                    vault,
                )
        self.own(resource, arm.protected_item_id(vault.id, fabric, container, name))

    def remove(self, address: Address, seen: Observed, vault: VaultRef, report: Progress) -> str | None:
        asr = self.session.vault_client(Family.ASR, vault)
        fabric, container = self.topology.container(vault, str(seen.data.get("cloud")))
        item = str(seen.status.get("item"))
        self.jobs.wait(
            f"disable protection of {address.name}",
            lambda hook: asr.replication_protected_items.begin_delete(
                vault.resource_group,
                vault.name,
                fabric,
                container,
                item,
                {"properties": {"disableProtectionReason": "NotSpecified"}},
                raw_response_hook=hook,
            ),
            report,
            vault,
        )
        return arm.protected_item_id(vault.id, fabric, container, item)


def _enable_body(
    d: Mapping[str, Any], item: Mapping[str, Any], targets: Mapping[str, str], *, policy_id: str
) -> dict[str, Any]:
    """Enable protection of the protectable ``item`` (its OS disk, or its first disk) under ``policy_id``."""
    details = (item.get("properties") or {}).get("customDetails") or {}
    disks = details.get("diskDetails") or []
    os_disk = next((x for x in disks if str(x.get("vhdType", "")).casefold() == "operatingsystem"), None)
    os_disk = os_disk or (disks[0] if disks else {})
    vm = d["vm"]
    return {
        "properties": {
            "policyId": policy_id,
            "protectableItemId": str(item["id"]),
            "providerSpecificDetails": {
                "instanceType": "HyperVReplicaAzure",
                "vmName": vm,
                "osType": d["osType"],
                "vhdId": os_disk.get("vhdId"),
                "targetAzureVmName": vm,
                "targetAzureNetworkId": targets["network"],
                "targetAzureSubnetId": targets["subnet"],
                "targetAzureV2ResourceGroupId": targets["resourceGroup"],
                # The policy names the storage account; enabling protection must name it again.
                "targetStorageAccountId": targets["storage"],
                "useManagedDisks": "false",
                "targetVmSize": d["targetVmSize"],
            },
        }
    }


def _update_body(d: Mapping[str, Any], current: Mapping[str, Any], targets: Mapping[str, str]) -> dict[str, Any]:
    """Re-target the protected item ``current``: VM name and size, network, and each NIC's subnet."""
    nics = ((current.get("properties") or {}).get("providerSpecificDetails") or {}).get("vmNics") or []
    return {
        "properties": {
            "recoveryAzureVMName": d["vm"],
            "recoveryAzureVMSize": d["targetVmSize"],
            "selectedRecoveryAzureNetworkId": targets["network"],
            "vmNics": [
                {
                    "nicId": nic.get("nicId"),
                    "selectionType": "SelectedByUser",
                    # The failover subnet lives on each IP configuration (API 2021 and later).
                    "ipConfigs": [
                        {
                            "ipConfigName": c.get("name"),
                            "isPrimary": c.get("isPrimary"),
                            "recoverySubnetName": d["targetSubnet"],
                        }
                        for c in nic.get("ipConfigs") or []
                    ],
                }
                for nic in nics
            ],
            "providerSpecificDetails": {
                "instanceType": "HyperVReplicaAzure",
                "recoveryAzureV2ResourceGroupId": targets["resourceGroup"],
                "useManagedDisks": "false",
            },
        }
    }
