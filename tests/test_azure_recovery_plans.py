"""Recovery plans (``asr.recovery_plan``) end to end against the fake ARM server: created with ASR's own
Shutdown and Failover groups and the spec's boot groups in order; a plan changed in the portal is drift that
apply puts back, keeping what the spec does not manage (a group's manual actions)."""

from __future__ import annotations

from pathlib import Path

from tests.azure_env import VAULT_ID, apply, changes, converged, seed_vault
from tests.azure_fake import JSON, FakeAzure
from tests.helpers import copy_specs

PLAN = f"{VAULT_ID}/replicationRecoveryPlans/Fabrikam-DR"


def _boot_vms(fake: FakeAzure, plan: JSON) -> list[list[str]]:
    names = {i["id"].casefold(): i["properties"]["friendlyName"] for i in fake.objects("replicationProtectedItems")}
    return [
        [names[i["id"].casefold()] for i in g["replicationProtectedItems"]]
        for g in plan["properties"]["groups"]
        if g["groupType"] == "Boot"
    ]


def test_a_recovery_plan_is_created_in_order_and_kept_in_order(azure: FakeAzure, tmp_path: Path) -> None:
    seed_vault(azure)
    specs = copy_specs(tmp_path)
    apply(specs)
    plan = azure.get_raw(PLAN)
    assert plan is not None
    assert [g["groupType"] for g in plan["properties"]["groups"]] == ["Shutdown", "Failover", "Boot", "Boot"]
    assert _boot_vms(azure, plan) == [["FAB-SQL01"], ["FAB-WEB01"]]
    assert converged(specs)

    # In the portal: both VMs in one group, and a manual action before it.
    boots = [g for g in plan["properties"]["groups"] if g["groupType"] == "Boot"]
    boots[0]["replicationProtectedItems"] += boots[1]["replicationProtectedItems"]
    boots[0]["startGroupActions"] = [{"actionName": "check-dns", "failoverTypes": ["TestFailover"]}]
    plan["properties"]["groups"] = [g for g in plan["properties"]["groups"] if g is not boots[1]]
    azure.put_raw(PLAN, plan)
    assert changes(specs) == {"asr.recovery_plan:fabrikam/Fabrikam-DR": "update"}
    apply(specs)
    fixed = azure.get_raw(PLAN)
    assert fixed is not None and _boot_vms(azure, fixed) == [["FAB-SQL01"], ["FAB-WEB01"]]
    first_boot = next(g for g in fixed["properties"]["groups"] if g["groupType"] == "Boot")
    assert first_boot["startGroupActions"] == [{"actionName": "check-dns", "failoverTypes": ["TestFailover"]}]
    assert converged(specs)
