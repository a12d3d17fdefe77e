"""The drill primitives on Azure Site Recovery (``providers.drills.Drills``): test failover of a recovery plan or
of one protected VM, its cleanup, and a VM's latest recovery point, through ``SiteRecoveryManagementClient``.

Bodies as Microsoft's examples and DOMAIN facts have them: a plan's test failover names the direction
(PrimaryToRecovery), the network (``VmNetworkAsInput`` with its id, or ``NoNetworkAttachAsInput``) and, per
provider, the recovery point type (``Latest``); a VM's names its provider's instance type (no recovery point id:
the latest). Each answers 202 with the ASR job, which :class:`jobs.Jobs` follows to its end. Recovery points come
unordered: the latest is the greatest ``recoveryPointTime``.
"""

from __future__ import annotations

import datetime
from typing import Any

from reconciler.core import desired as typed
from reconciler.core.errors import PermanentError
from reconciler.core.resources import Resource
from reconciler.providers.azure import arm, normalize
from reconciler.providers.azure.context import VaultRef
from reconciler.providers.azure.jobs import Jobs
from reconciler.providers.azure.session import Family, Session, plain
from reconciler.providers.azure.topology import Topologies
from reconciler.providers.base import Progress
from reconciler.providers.drills import DrillJob, RecoveryPoint

HVR_AZURE = "HyperVReplicaAzure"


def _network(network_id: str | None) -> dict[str, Any]:
    if network_id is None:
        return {"networkType": "NoNetworkAttachAsInput"}
    return {"networkType": "VmNetworkAsInput", "networkId": network_id}


class AzureDrills:
    def __init__(self, session: Session, jobs: Jobs, topology: Topologies) -> None:
        self.session = session
        self.jobs = jobs
        self.topology = topology

    def network_id(self, network: Resource) -> str:
        """The ARM id of a tenant's virtual network, from its desired subscription, resource group and name."""
        d = typed.of(network, typed.VirtualNetwork)
        return arm.virtual_network_id(d["subscriptionId"], d["resourceGroup"], d["name"])

    def _vault(self, target: Resource) -> VaultRef:
        return self.session.vault(self.session.tenant(target.tenant or target.address.scope).site)

    def _item(self, target: Resource) -> tuple[VaultRef, str, str, str]:
        """The vault, fabric, container and protected item name of a protected VM."""
        tenant = self.session.tenant(target.tenant or target.address.scope)
        vault = self.session.vault(tenant.site)
        fabric, container = self.topology.container(vault, tenant.cloud)
        asr = self.session.vault_client(Family.ASR, vault)
        with arm.boundary(f"list protected VMs of cloud {tenant.cloud}"):
            for item in asr.replication_protected_items.list_by_replication_protection_containers(
                vault.resource_group, vault.name, fabric, container
            ):
                obj = plain(item)
                if arm.same(str((obj.get("properties") or {}).get("friendlyName")), target.address.name):
                    return vault, fabric, container, str(obj["name"])
        raise PermanentError(f"{target.address} is not protected: nothing to drill", code="ProtectedItemNotFound")

    def _outcome(self, vault: VaultRef, job: str | None) -> DrillJob:
        props = ((self.jobs.job(vault, job) if job else None) or {}).get("properties") or {}
        return DrillJob(
            job=job or "",
            state=str(props.get("state") or "Succeeded"),
            started=props.get("startTime"),
            ended=props.get("endTime"),
        )

    def _act(self, target: Resource, action: str, what: str, body: dict[str, Any], progress: Progress) -> DrillJob:
        """POST ``action`` (``test_failover``, ``test_failover_cleanup``) on a recovery plan or a protected VM,
        wait for its ASR job, and say how it ended."""
        if target.kind == "asr.recovery_plan":
            vault = self._vault(target)
            plans = self.session.vault_client(Family.ASR, vault).replication_recovery_plans
            begin = getattr(plans, f"begin_{action}")
            args: tuple[str, ...] = (vault.resource_group, vault.name, target.address.name)
            what = f"{what} of recovery plan {target.address.name}"
        else:
            vault, fabric, container, item = self._item(target)
            items = self.session.vault_client(Family.ASR, vault).replication_protected_items
            begin = getattr(items, f"begin_{action}")
            args = (vault.resource_group, vault.name, fabric, container, item)
            what = f"{what} of {target.address.name}"
        _, job = self.jobs.run(what, lambda hook: begin(*args, body, raw_response_hook=hook), progress, vault)
        return self._outcome(vault, job)

    def test_failover(self, target: Resource, *, network_id: str | None, progress: Progress) -> DrillJob:
        # A plan names the recovery point per provider (a list); one VM's input is its provider's object.
        specific: Any = (
            [{"instanceType": HVR_AZURE, "recoveryPointType": "Latest"}]
            if target.kind == "asr.recovery_plan"
            else {"instanceType": HVR_AZURE}
        )
        body = {
            "properties": {
                "failoverDirection": "PrimaryToRecovery",
                **_network(network_id),
                "providerSpecificDetails": specific,
            }
        }
        return self._act(target, "test_failover", "test failover", body, progress)

    def cleanup(self, target: Resource, *, comments: str, progress: Progress) -> DrillJob:
        body = {"properties": {"comments": comments}}
        return self._act(target, "test_failover_cleanup", "clean up the test failover", body, progress)

    def latest_recovery_point(self, item: Resource) -> RecoveryPoint | None:
        vault, fabric, container, name = self._item(item)
        asr = self.session.vault_client(Family.ASR, vault)
        with arm.boundary(f"list recovery points of {item.address.name}"):
            points = [
                (plain(p).get("properties") or {})
                for p in asr.recovery_points.list_by_replication_protected_items(
                    vault.resource_group, vault.name, fabric, container, name
                )
            ]
            details = (
                plain(asr.replication_protected_items.get(vault.resource_group, vault.name, fabric, container, name))
                .get("properties", {})
                .get("providerSpecificDetails")
                or {}
            )
        dated = [p for p in points if p.get("recoveryPointTime")]
        if not dated:
            return None
        latest = max(
            dated,
            key=lambda p: (
                normalize.parse_time(p["recoveryPointTime"]) or datetime.datetime.min.replace(tzinfo=datetime.UTC)
            ),
        )
        rpo = details.get("rpoInSeconds")
        return RecoveryPoint(
            time=str(latest["recoveryPointTime"]),
            kind=latest.get("recoveryPointType"),
            last_replicated=details.get("lastReplicatedTime"),
            rpo_seconds=int(rpo) if isinstance(rpo, int | float) else None,
        )
