"""Replication policies (``asr.replication_policy``) and their association with a tenant's cloud
(``asr.policy_association``: a protection container mapping from the cloud's container to Azure), in the
site's vault through ``SiteRecoveryManagementClient``.

A policy is its tenant's through the storage account it replicates to (that account's subscription is the
tenant's); an association is the tenant's whose cloud it pairs. ASR cannot re-point a container mapping at
another policy: changing the policy removes the mapping and pairs the cloud again.
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
from reconciler.providers.azure.session import Family, Found, get, list_all, plain
from reconciler.providers.base import Progress, Step


def _removal() -> dict[str, Any]:
    """The body of a container mapping's removal (POST .../remove): HyperVReplicaAzure needs no details."""
    return {"properties": {"providerSpecificInput": {}}}


# A container mapping's provider-specific input: HyperVReplicaAzure has no settings of its own, so the base
# class, as Microsoft's example and Azure PowerShell send it (an empty object lacks the required instanceType).
MAPPING_INPUT = {"instanceType": "ReplicationProviderSpecificContainerMappingInput"}


class PolicyHandler(AsrHandler):
    kinds = frozenset({"asr.replication_policy"})

    def list_vault(self, vault: VaultRef, asr: Any) -> list[Found]:
        return list_all(
            f"list replication policies in vault {vault.name}",
            lambda: asr.replication_policies.list(vault.resource_group, vault.name),
            lambda o: normalize.replication_policy(o, vault.name),
        )

    def tenant_of(self, site: str, n: Normalized) -> str | None:
        sub = n.status.get("storageSubscription")
        return self.session.context.tenant_of_subscription(site, str(sub)) if sub else None

    def get_in_vault(self, resource: Resource, tenant: TenantRef, vault: VaultRef) -> Found | None:
        asr, name = self.session.vault_client(Family.ASR, vault), resource.address.name
        obj = get(
            f"get replication policy {name}",
            lambda: asr.replication_policies.get(vault.resource_group, vault.name, name),
        )
        n = normalize.replication_policy(obj, vault.name)
        return (obj, n) if n is not None else None

    def _settings(self, resource: Resource) -> dict[str, Any]:
        """The policy's HyperVReplicaAzure settings in the write shape (names differ from the read shape)."""
        d = typed.of(resource, typed.ReplicationPolicy)
        tenant = self.session.tenant(resource.tenant)
        body: dict[str, Any] = {
            "instanceType": "HyperVReplicaAzure",
            "recoveryPointHistoryDuration": d["recoveryPointHours"],
            "applicationConsistentSnapshotFrequencyInHours": d["appConsistentSnapshotHours"],
            "replicationInterval": d["replicationIntervalSeconds"],
            "storageAccounts": [self.storage_id(tenant, d["storageAccount"])],
        }
        if d.get("startTime"):
            body["onlineReplicationStartTime"] = d["startTime"]
        return body

    def put(self, resource: Resource, step: Step, report: Progress) -> None:
        vault, asr = self.vault_of(resource)
        name = resource.desired["name"]
        ops = asr.replication_policies
        if step.create:
            body: dict[str, Any] = {"properties": {"providerSpecificInput": self._settings(resource)}}
            self.jobs.wait(
                f"create replication policy {name}",
                lambda hook: ops.begin_create(vault.resource_group, vault.name, name, body, raw_response_hook=hook),
                report,
                vault,
            )
        elif not step.lifecycle_only:
            body = {"properties": {"replicationProviderSettings": self._settings(resource)}}
            self.jobs.wait(
                f"update replication policy {name}",
                lambda hook: ops.begin_update(vault.resource_group, vault.name, name, body, raw_response_hook=hook),
                report,
                vault,
            )
        self.own(resource, arm.policy_id(vault.id, name))

    def remove(self, address: Address, seen: Observed, vault: VaultRef, report: Progress) -> str | None:
        asr = self.session.vault_client(Family.ASR, vault)
        self.jobs.wait(
            f"delete replication policy {address.name}",
            lambda hook: asr.replication_policies.begin_delete(
                vault.resource_group, vault.name, address.name, raw_response_hook=hook
            ),
            report,
            vault,
        )
        return arm.policy_id(vault.id, address.name)


class AssociationHandler(AsrHandler):
    kinds = frozenset({"asr.policy_association"})

    def list_vault(self, vault: VaultRef, asr: Any) -> list[Found]:
        return list_all(
            f"list container mappings in vault {vault.name}",
            lambda: asr.replication_protection_container_mappings.list(vault.resource_group, vault.name),
            normalize.policy_association,
        )

    def tenant_of(self, site: str, n: Normalized) -> str | None:
        return self.session.context.tenant_of_cloud(site, str(n.data.get("cloud") or ""))

    def get_in_vault(self, resource: Resource, tenant: TenantRef, vault: VaultRef) -> Found | None:
        obj = self._mapping(vault, resource.address.name)
        n = normalize.policy_association(obj) if obj is not None else None
        return (obj, n) if obj is not None and n is not None else None

    def _mapping(self, vault: VaultRef, cloud: str) -> dict[str, Any] | None:
        """The cloud's container mapping to Azure, if any (one list call in the cloud's container)."""
        fabric, container = self.topology.container(vault, cloud)
        asr = self.session.vault_client(Family.ASR, vault)
        with arm.boundary(f"list container mappings of cloud {cloud}"):
            for m in asr.replication_protection_container_mappings.list_by_replication_protection_containers(
                vault.resource_group, vault.name, fabric, container
            ):
                obj = plain(m)
                if normalize.policy_association(obj) is not None:
                    return obj
        return None

    def put(self, resource: Resource, step: Step, report: Progress) -> None:
        vault, asr = self.vault_of(resource)
        cloud, policy = resource.desired["cloud"], resource.desired["policy"]
        fabric, container = self.topology.container(vault, cloud)
        ops = asr.replication_protection_container_mappings
        found = self.current(resource)
        current = found[0] if found is not None else None
        if current is not None:
            n = normalize.policy_association(current)
            if n is not None and arm.same(str(n.data.get("policy")), policy):
                self.own(resource, str(current["id"]))  # only the marker was behind
                return
            # Another policy: ASR cannot re-point a mapping, so remove it and pair the cloud again.
            old = str(current["name"])
            self.jobs.wait(
                f"remove container mapping {old} of cloud {cloud}",
                lambda hook: ops.begin_delete(
                    vault.resource_group, vault.name, fabric, container, old, _removal(), raw_response_hook=hook
                ),
                report,
                vault,
            )
            self.ledger.forget(str(current["id"]))
        mapping = f"{container}-{policy}"[:80]
        body: dict[str, Any] = {
            "properties": {
                "targetProtectionContainerId": RECOVERY_FABRIC,
                "policyId": arm.policy_id(vault.id, policy),
                "providerSpecificInput": dict(MAPPING_INPUT),
            }
        }
        self.jobs.wait(
            f"associate policy {policy} with cloud {cloud}",
            lambda hook: ops.begin_create(
                vault.resource_group, vault.name, fabric, container, mapping, body, raw_response_hook=hook
            ),
            report,
            vault,
        )
        self.own(resource, arm.container_mapping_id(vault.id, fabric, container, mapping))

    def remove(self, address: Address, seen: Observed, vault: VaultRef, report: Progress) -> str | None:
        asr = self.session.vault_client(Family.ASR, vault)
        fabric, container = self.topology.container(vault, address.name)
        name = str(seen.status.get("mapping") or "")
        if not name:
            return None
        mapping = {"name": name, "id": arm.container_mapping_id(vault.id, fabric, container, name)}
        self.jobs.wait(
            f"remove the policy from cloud {address.name}",
            lambda hook: asr.replication_protection_container_mappings.begin_delete(
                vault.resource_group,
                vault.name,
                fabric,
                container,
                str(mapping["name"]),
                _removal(),
                raw_response_hook=hook,
            ),
            report,
            vault,
        )
        return str(mapping["id"])
