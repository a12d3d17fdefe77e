"""The primitives a DR drill is built from (``providers.drills``), on Azure against the fake ARM server: a
recovery plan's test failover and its cleanup, one VM's, and a VM's latest recovery point. The drill itself
(``reconciler drill``) composes them elsewhere."""

from __future__ import annotations

from pathlib import Path

from reconciler.core.addresses import Address
from reconciler.core.resources import Resource
from reconciler.engine import expand
from reconciler.providers.azure.context import AzureContext
from reconciler.providers.azure.provider import AzureProvider
from reconciler.providers.drills import Drills
from reconciler.spec.loader import load_paths
from tests.azure_env import FABRIKAM_SUB, VAULT_ID, apply, azure_settings, seed_vault
from tests.azure_fake import FakeAzure
from tests.helpers import copy_specs

DR_NETWORK = (
    f"/subscriptions/{FABRIKAM_SUB}/resourceGroups/FabrikamRecoveryGroup/providers/Microsoft.Network/"
    "virtualNetworks/BlueNetwork-DR"
)


def _provider(fake: FakeAzure, specs: Path) -> tuple[AzureProvider, dict[Address, Resource]]:
    loaded = load_paths([specs])
    assert loaded.ok
    settings = azure_settings(fake, RECONCILER_AZURE_POLLING_INTERVAL_S="0")
    provider = AzureProvider(
        settings, AzureContext.from_specs(loaded.specs), credential_factory=lambda _tenant: fake.credential()
    )
    return provider, {r.address: r for r in expand.expand(loaded.specs)}


def _item_state(fake: FakeAzure, vm: str) -> str:
    item = next(o for o in fake.objects("replicationProtectedItems") if o["properties"]["friendlyName"] == vm)
    return str(item["properties"]["testFailoverState"])


def test_a_recovery_plan_is_test_failed_over_and_cleaned_up(azure: FakeAzure, tmp_path: Path) -> None:
    seed_vault(azure)
    specs = copy_specs(tmp_path)
    apply(specs)
    provider, resources = _provider(azure, specs)
    with provider:
        drills: Drills = provider.drills
        plan = resources[Address.parse("asr.recovery_plan:fabrikam/Fabrikam-DR")]
        seen: list[str] = []
        done = drills.test_failover(plan, network_id=DR_NETWORK, progress=seen.append)
        assert done.state == "Succeeded" and done.job and done.started and done.ended
        assert {_item_state(azure, vm) for vm in ("FAB-SQL01", "FAB-WEB01")} == {"WaitingForCompletion"}
        sent = next(b for m, p, b in azure.bodies if m == "POST" and p.endswith("/Fabrikam-DR/testFailover"))
        assert sent["properties"] == {
            "failoverDirection": "PrimaryToRecovery",
            "networkType": "VmNetworkAsInput",
            "networkId": DR_NETWORK,
            "providerSpecificDetails": [{"instanceType": "HyperVReplicaAzure", "recoveryPointType": "Latest"}],
        }
        plan_now = azure.get_raw(f"{VAULT_ID}/replicationRecoveryPlans/Fabrikam-DR")
        assert plan_now is not None and plan_now["properties"]["currentScenarioStatus"] == "Suspended"
        cleaned = drills.cleanup(plan, comments="drill 2026-12: VMs answered", progress=seen.append)
        assert cleaned.state == "Succeeded"
        assert {_item_state(azure, vm) for vm in ("FAB-SQL01", "FAB-WEB01")} == {"None"}


def test_one_vm_and_its_latest_recovery_point(azure: FakeAzure, tmp_path: Path) -> None:
    seed_vault(azure)
    specs = copy_specs(tmp_path)
    apply(specs)
    provider, resources = _provider(azure, specs)
    with provider:
        vm = resources[Address.parse("asr.protected_item:acmecorp/VM01")]
        point = provider.drills.latest_recovery_point(vm)
        # The fake answers three points out of order: the latest is the greatest time, not the first.
        assert point is not None and (point.time, point.kind) == ("2026-12-06T05:00:00Z", "ApplicationConsistent")
        assert point.rpo_seconds == 30 and point.last_replicated
        done = provider.drills.test_failover(vm, network_id=None, progress=lambda _m: None)
        assert done.state == "Succeeded" and _item_state(azure, "VM01") == "WaitingForCompletion"
        sent = next(b for m, p, b in azure.bodies if m == "POST" and p.endswith("/testFailover"))
        assert sent["properties"]["networkType"] == "NoNetworkAttachAsInput"
        provider.drills.cleanup(vm, comments="ok", progress=lambda _m: None)
        assert _item_state(azure, "VM01") == "None"
