"""Network mappings (``asr.network_mapping``): a tenant's VM network, as VMM synchronised it to the site's
vault, mapped to the Azure virtual network its VMs fail over to, through ``SiteRecoveryManagementClient``.

A mapping is its tenant's through its VM network. ASR keeps no subnet on the mapping (the subnet a VM fails
over to is kept per protected VM): the mapping reads back with the spec's own subnet, and a wrong one shows
on the protected items' ``targetSubnet``.
"""

from __future__ import annotations

from typing import Any

from reconciler.core import desired as typed
from reconciler.core.addresses import Address
from reconciler.core.resources import Observed, Resource
from reconciler.providers.azure import arm, normalize
from reconciler.providers.azure.context import TenantRef, VaultRef
from reconciler.providers.azure.handler import AsrHandler
from reconciler.providers.azure.normalize import RECOVERY_FABRIC, Normalized
from reconciler.providers.azure.session import Family, Found, list_all, plain
from reconciler.providers.base import Progress, Step


class NetworkMappingHandler(AsrHandler):
    kinds = frozenset({"asr.network_mapping"})

    def list_vault(self, vault: VaultRef, asr: Any) -> list[Found]:
        return list_all(
            f"list network mappings in vault {vault.name}",
            lambda: asr.replication_network_mappings.list(vault.resource_group, vault.name),
            normalize.network_mapping,
        )

    def tenant_of(self, site: str, n: Normalized) -> str | None:
        return self.session.context.tenant_of_vm_network(site, n.name)

    def adjust(self, resource: Resource, n: Normalized) -> None:
        if "azureSubnet" in resource.desired:
            n.data["azureSubnet"] = typed.of(resource, typed.NetworkMapping)["azureSubnet"]

    def get_in_vault(self, resource: Resource, tenant: TenantRef, vault: VaultRef) -> Found | None:
        fabric, network = self.topology.network(vault, resource.address.name)
        obj = self._mapping(vault, fabric, network, resource.address.name)
        n = normalize.network_mapping(obj) if obj is not None else None
        return (obj, n) if obj is not None and n is not None else None

    def _mapping(self, vault: VaultRef, fabric: str, network: str, vm_network: str) -> dict[str, Any] | None:
        """The VM network's mapping to Azure, if any (one list call in the ASR network)."""
        ops = self.session.vault_client(Family.ASR, vault).replication_network_mappings
        with arm.boundary(f"list network mappings of VM network {vm_network}"):
            for m in ops.list_by_replication_networks(vault.resource_group, vault.name, fabric, network):
                obj = plain(m)
                if normalize.network_mapping(obj) is not None:
                    return obj
        return None

    def put(self, resource: Resource, step: Step, report: Progress) -> None:
        vault, asr = self.vault_of(resource)
        d = typed.of(resource, typed.NetworkMapping)
        fabric, network = self.topology.network(vault, d["vmNetwork"])
        ops = asr.replication_network_mappings
        found = self.current(resource)
        current = found[0] if found is not None else None
        mapping = str(current["name"]) if current is not None else f"{network}-azure"[:80]
        body: dict[str, Any] = {
            "properties": {
                "recoveryFabricName": RECOVERY_FABRIC,
                "recoveryNetworkId": arm.virtual_network_id(
                    d["azureSubscriptionId"], d["azureResourceGroup"], d["azureNetwork"]
                ),
                "fabricSpecificDetails": {"instanceType": "VmmToAzure"},
            }
        }
        if current is None:
            self.jobs.wait(
                f"map VM network {d['vmNetwork']} to {d['azureNetwork']}",
                lambda hook: ops.begin_create(
                    vault.resource_group, vault.name, fabric, network, mapping, body, raw_response_hook=hook
                ),
                report,
                vault,
            )
        elif not step.lifecycle_only:
            self.jobs.wait(
                f"update network mapping of {d['vmNetwork']}",
                lambda hook: ops.begin_update(
                    vault.resource_group, vault.name, fabric, network, mapping, body, raw_response_hook=hook
                ),
                report,
                vault,
            )
        self.own(resource, arm.network_mapping_id(vault.id, fabric, network, mapping))

    def remove(self, address: Address, seen: Observed, vault: VaultRef, report: Progress) -> str | None:
        ops = self.session.vault_client(Family.ASR, vault).replication_network_mappings
        fabric, network = self.topology.network(vault, address.name)
        name = str(seen.status.get("mapping"))
        self.jobs.wait(
            f"remove the network mapping of {address.name}",
            lambda hook: ops.begin_delete(
                vault.resource_group, vault.name, fabric, network, name, raw_response_hook=hook
            ),
            report,
            vault,
        )
        return arm.network_mapping_id(vault.id, fabric, network, name)
