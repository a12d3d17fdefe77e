"""``reconciler drill`` against the fake ARM server, through the CLI: the example tenants applied to Azure (their
drill networks made beside the recovery VNets), then drilled. What goes to Azure is held to test failover and its
cleanup: every write of the drill is a POST to ``.../testFailover`` or ``.../testFailoverCleanup``, into the
drill network, never a production failover. A VM whose test failover job fails is named with ASR's cause, and
still cleaned up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.store import history
from tests.azure_env import ACME_SUB, FABRIKAM_SUB, apply, seed_vault
from tests.azure_fake import FakeAzure
from tests.helpers import copy_specs, out, pin_clock, run

# The fake's newest recovery point is 2026-12-06T05:00:00Z: five minutes before the drill, within both policies.
DRILL_TIME = "2026-12-06T05:05:00Z"
DRILL_NETWORKS = {
    "acmecorp": f"/subscriptions/{ACME_SUB}/resourceGroups/AcmeCorpRecoveryGroup/providers/Microsoft.Network/"
    "virtualNetworks/YellowNetwork-drill",
    "fabrikam": f"/subscriptions/{FABRIKAM_SUB}/resourceGroups/FabrikamRecoveryGroup/providers/Microsoft.Network/"
    "virtualNetworks/BlueNetwork-DR-drill",
}


@pytest.fixture
def applied(azure: FakeAzure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    seed_vault(azure)
    specs = copy_specs(tmp_path)
    apply(specs)
    pin_clock(monkeypatch, DRILL_TIME)
    return specs


def _drill(specs: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = run("drill", specs, "--format", "json", *extra)
    assert result.exit_code in (0, 1, 2), out(result)
    return result.exit_code, json.loads(result.stdout)


def _writes_since(azure: FakeAzure, mark: int) -> list[tuple[str, str, Any]]:
    return azure.bodies[mark:]


def _test_failover_state(azure: FakeAzure, vm: str) -> str:
    item = next(o for o in azure.objects("replicationProtectedItems") if o["properties"]["friendlyName"] == vm)
    return str(item["properties"]["testFailoverState"])


def test_a_drill_on_azure_fails_over_into_the_drill_networks_only(azure: FakeAzure, applied: Path) -> None:
    assert {n["name"] for n in azure.objects("virtualNetworks")} >= {"YellowNetwork-drill", "BlueNetwork-DR-drill"}
    mark = len(azure.bodies)
    code, document = _drill(applied)
    assert code == 0, document
    assert document["result"] == "passed" and document["counts"]["vmsFailedOver"] == 3
    writes = _writes_since(azure, mark)
    assert writes and all(method == "POST" for method, _, _ in writes)
    actions = sorted(path.rsplit("/", 1)[1] for _, path, _ in writes)
    assert actions == ["testFailover", "testFailover", "testFailoverCleanup", "testFailoverCleanup"]
    for _, path, body in writes:
        if path.endswith("/testFailover"):
            tenant = "fabrikam" if "/replicationRecoveryPlans/Fabrikam-DR/" in path else "acmecorp"
            assert body["properties"]["failoverDirection"] == "PrimaryToRecovery"
            assert body["properties"]["networkType"] == "VmNetworkAsInput"
            assert body["properties"]["networkId"] == DRILL_NETWORKS[tenant]
        else:
            assert body["properties"]["comments"] == f"reconciler drill {document['runId']}: passed"
    assert {_test_failover_state(azure, vm) for vm in ("VM01", "FAB-WEB01", "FAB-SQL01")} == {"None"}
    fabrikam = next(t for t in document["tenants"] if t["tenant"] == "fabrikam")
    (plan,) = fabrikam["targets"]
    assert plan["testFailover"]["job"] and plan["testFailover"]["state"] == "Succeeded"
    point = plan["vms"][0]["recoveryPoint"]  # ASR's latest point (the greatest time), aged by the run's clock
    assert (point["time"], point["kind"], point["rpoSeconds"]) == ("2026-12-06T05:00:00Z", "ApplicationConsistent", 30)
    assert point["ageSeconds"] >= 300  # the pinned clock started five minutes after the point, and moves on
    assert fabrikam["rpo"]["status"] == "ok" and fabrikam["rto"]["seconds"] is not None
    (recorded,) = history.list_runs(5, kind="drill")
    assert recorded.id == document["runId"] and recorded.result == "passed"


def test_a_vm_whose_test_failover_job_fails_is_named_and_still_cleaned_up(azure: FakeAzure, applied: Path) -> None:
    azure.fail_next_job(r"/replicationProtectedItems/[^/]+/testFailover$", "TestFailoverFailed", "The VM did not boot.")
    mark = len(azure.bodies)
    code, document = _drill(applied)
    assert code == 2 and document["result"] == "failed"
    acme = next(t for t in document["tenants"] if t["tenant"] == "acmecorp")
    assert acme["result"] == "failed"
    causes = {f["step"]: f for f in acme["failures"]}
    assert causes["test-failover"]["address"] == "asr.protected_item:acmecorp/VM01"
    assert "TestFailoverFailed: The VM did not boot." in causes["test-failover"]["cause"]
    assert causes["vm-check"]["address"] == "asr.protected_item:acmecorp/VM01"
    cleanups = [(p, b) for m, p, b in _writes_since(azure, mark) if p.endswith("/testFailoverCleanup")]
    assert len(cleanups) == 2  # VM01's too, after its failure
    vm01 = next(b for p, b in cleanups if "/replicationProtectedItems/" in p)
    assert vm01["properties"]["comments"].startswith(f"reconciler drill {document['runId']}: failed: ")
    assert next(t for t in document["tenants"] if t["tenant"] == "fabrikam")["result"] == "passed"
    shown = run("show", document["runId"])
    assert shown.exit_code == 0 and "The VM did not boot." in shown.stdout
