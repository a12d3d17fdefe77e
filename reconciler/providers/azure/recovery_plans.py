"""Recovery plans (``asr.recovery_plan``): a tenant's protected VMs in boot groups that fail over together, group
after group, in the site's vault through ``SiteRecoveryManagementClient``.

ASR names a plan's VMs by their protected items' ids; the spec by VM name. The bulk read therefore lists the
vault's protected items too (one more list call per vault) to turn ids into names and to tell whose plan it is:
the tenant whose cloud its VMs are in. A write looks the VMs up in the tenant's cloud (one list in its
container). An update keeps what the spec does not manage: the Shutdown and Failover groups ASR adds, and each
boot group's scripts and manual actions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core import desired as typed
from reconciler.core.addresses import Address
from reconciler.core.errors import PermanentError
from reconciler.core.resources import Observed, Resource
from reconciler.providers.azure import arm, normalize
from reconciler.providers.azure.context import TenantRef, VaultRef
from reconciler.providers.azure.handler import AsrHandler
from reconciler.providers.azure.normalize import RECOVERY_FABRIC, Normalized
from reconciler.providers.azure.session import Family, Found, get, list_all, plain
from reconciler.providers.base import Progress, Step

VmNames = dict[str, tuple[str, str]]  # protected item id (casefolded) -> (VM name, cloud)


def _vm_names(items: Sequence[Mapping[str, Any]]) -> VmNames:
    out: VmNames = {}
    for item in items:
        props = item.get("properties") or {}
        out[str(item.get("id", "")).casefold()] = (
            str(props.get("friendlyName") or ""),
            str(props.get("primaryProtectionContainerFriendlyName") or ""),
        )
    return out


def _group(items: Sequence[Mapping[str, Any]], kept: Mapping[str, Any] | None) -> dict[str, Any]:
    """A boot group of ``items`` (protected items), keeping the actions of the group it replaces."""
    return {
        "groupType": "Boot",
        "replicationProtectedItems": [{"id": str(i["id"]), "virtualMachineId": str(i["name"])} for i in items],
        "startGroupActions": list((kept or {}).get("startGroupActions") or []),
        "endGroupActions": list((kept or {}).get("endGroupActions") or []),
    }


class RecoveryPlanHandler(AsrHandler):
    kinds = frozenset({"asr.recovery_plan"})

    def list_vault(self, vault: VaultRef, asr: Any) -> list[Found]:
        rg, name = vault.resource_group, vault.name
        with arm.boundary(f"list protected items in vault {name}"):
            vms = _vm_names([plain(i) for i in asr.replication_protected_items.list(rg, name)])
        return list_all(
            f"list recovery plans in vault {name}",
            lambda: asr.replication_recovery_plans.list(rg, name),
            lambda o: normalize.recovery_plan(o, vms),
        )

    def tenant_of(self, site: str, n: Normalized) -> str | None:
        cloud = n.status.get("cloud")
        return self.session.context.tenant_of_cloud(site, str(cloud)) if cloud else None

    def _items(self, vault: VaultRef, tenant: TenantRef) -> list[dict[str, Any]]:
        """The protected items of the tenant's cloud (one list in its container)."""
        fabric, container = self.topology.container(vault, tenant.cloud)
        asr = self.session.vault_client(Family.ASR, vault)
        with arm.boundary(f"list protected VMs of cloud {tenant.cloud}"):
            return [
                plain(i)
                for i in asr.replication_protected_items.list_by_replication_protection_containers(
                    vault.resource_group, vault.name, fabric, container
                )
            ]

    def get_in_vault(self, resource: Resource, tenant: TenantRef, vault: VaultRef) -> Found | None:
        asr, name = self.session.vault_client(Family.ASR, vault), resource.address.name
        obj = get(
            f"get recovery plan {name}",
            lambda: asr.replication_recovery_plans.get(vault.resource_group, vault.name, name),
        )
        n = normalize.recovery_plan(obj, _vm_names(self._items(vault, tenant)))
        return (obj, n) if n is not None else None

    def _groups(self, resource: Resource, vault: VaultRef, current: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        """The plan's groups as ASR takes them: its own Shutdown and Failover groups, then the spec's boot groups."""
        tenant = self.session.tenant(resource.tenant)
        by_vm = {
            str((i.get("properties") or {}).get("friendlyName", "")).casefold(): i for i in self._items(vault, tenant)
        }
        old = list(((current or {}).get("properties") or {}).get("groups") or [])
        fixed = [g for g in old if str(g.get("groupType", "")).casefold() in ("shutdown", "failover")] or [
            {"groupType": kind, "replicationProtectedItems": [], "startGroupActions": [], "endGroupActions": []}
            for kind in ("Shutdown", "Failover")
        ]
        boots = [g for g in old if str(g.get("groupType", "")).casefold() == "boot"]
        groups = []
        for index, vms in enumerate(typed.of(resource, typed.RecoveryPlan)["groups"]):
            missing = [vm for vm in vms if vm.casefold() not in by_vm]
            if missing:
                raise PermanentError(
                    f"recovery plan {resource.address.name}: {', '.join(missing)} not protected in cloud "
                    f"{tenant.cloud} yet",
                    code="ProtectedItemNotFound",
                )
            groups.append(_group([by_vm[vm.casefold()] for vm in vms], boots[index] if index < len(boots) else None))
        return [*fixed, *groups]

    def put(self, resource: Resource, step: Step, report: Progress) -> None:
        vault, asr = self.vault_of(resource)
        name = typed.of(resource, typed.RecoveryPlan)["name"]
        ops = asr.replication_recovery_plans
        found = self.current(resource)
        current = found[0] if found is not None else None
        groups = self._groups(resource, vault, current)
        if current is None:
            fabric = self.topology.of(vault).fabric
            body: dict[str, Any] = {
                "properties": {
                    "primaryFabricId": f"{vault.id}/replicationFabrics/{fabric}",
                    "recoveryFabricId": RECOVERY_FABRIC,
                    "failoverDeploymentModel": "ResourceManager",
                    "groups": groups,
                }
            }
            self.jobs.wait(
                f"create recovery plan {name}",
                lambda hook: ops.begin_create(vault.resource_group, vault.name, name, body, raw_response_hook=hook),
                report,
                vault,
            )
        elif not step.lifecycle_only:
            update: dict[str, Any] = {"properties": {"groups": groups}}
            self.jobs.wait(
                f"update recovery plan {name}",
                lambda hook: ops.begin_update(vault.resource_group, vault.name, name, update, raw_response_hook=hook),
                report,
                vault,
            )
        self.own(resource, f"{vault.id}/replicationRecoveryPlans/{name}")

    def remove(self, address: Address, seen: Observed, vault: VaultRef, report: Progress) -> str | None:
        asr = self.session.vault_client(Family.ASR, vault)
        self.jobs.wait(
            f"delete recovery plan {address.name}",
            lambda hook: asr.replication_recovery_plans.begin_delete(
                vault.resource_group, vault.name, address.name, raw_response_hook=hook
            ),
            report,
            vault,
        )
        return f"{vault.id}/replicationRecoveryPlans/{address.name}"
