"""Protected items (``asr.protected_item``): a tenant's VM replicated to Azure (HyperVReplicaAzure), through
``SiteRecoveryManagementClient``.

Enabling protection builds its payload (``payloads.py``) from the spec and from the VM's protectable item in
its cloud's container (its id on the host, its disks); the storage account the policy names is passed again,
and the target network, subnet and resource group come from the tenant's recovery section. An update
re-targets the VM's NICs; disabling protection is a pruned delete, or the first half of a replace. The only
Azure kind that may be replaced (a VM moving to another policy, storage account or disk target): protection is
disabled and enabled again, losing no data of the tenant's but its recovery points (the planner shows the
cost, and holds it as disruptive).
"""

from __future__ import annotations

from typing import Any

from reconciler.core import desired as typed
from reconciler.core.addresses import Address
from reconciler.core.errors import PermanentError
from reconciler.core.resources import Observed, Resource
from reconciler.providers.azure import arm, normalize, payloads
from reconciler.providers.azure.context import TenantRef, VaultRef
from reconciler.providers.azure.handler import AsrHandler
from reconciler.providers.azure.normalize import Normalized
from reconciler.providers.azure.session import Family, Found, list_all, plain
from reconciler.providers.base import Progress, Step


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

    def adjust(self, resource: Resource, n: Normalized) -> None:
        if "osDisk" in resource.desired:  # what enable protection needed; ASR keeps no record of it
            n.data["osDisk"] = resource.desired["osDisk"]

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
        """Where the VM replicates and fails over to: the storage account, network and resource group (ARM ids),
        and the subnet (by name, as Azure PowerShell sends it)."""
        d = typed.of(resource, typed.ProtectedItem)
        tenant = self.session.tenant(resource.tenant)
        return {
            "storage": self.storage_id(tenant, d["storageAccount"]),
            "network": arm.virtual_network_id(tenant.subscription, d["targetResourceGroup"], d["targetNetwork"]),
            "subnet": d["targetSubnet"],
            "resourceGroup": arm.resource_group_id(tenant.subscription, d["targetResourceGroup"]),
        }

    def put(self, resource: Resource, step: Step, report: Progress) -> None:
        vault, asr = self.vault_of(resource)
        vm = resource.desired["vm"]
        fabric, container = self.topology.container(vault, resource.desired["cloud"])
        ops = asr.replication_protected_items
        targets = self._targets(resource)
        found = self.current(resource)
        current = found[0] if found is not None else None
        if current is None:
            item = self._protectable(vault, fabric, container, vm)
            name = str(item["name"])
            body = payloads.enable_body(
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
                body = payloads.update_body(resource.desired, current, targets)
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
                payloads.DISABLE_BODY,
                raw_response_hook=hook,
            ),
            report,
            vault,
        )
        return arm.protected_item_id(vault.id, fabric, container, item)
