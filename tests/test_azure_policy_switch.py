"""A tenant's cloud moves to another replication policy while its VMs are protected (end to end against the fake
ARM server, which refuses, as ASR does, to remove a policy's mapping while VMs replicate with it).

A protected VM cannot switch policy in place: the plan shows one ordered change on the cloud's association that
first disables protection of the cloud's VMs, then re-pairs the cloud, after which each VM's own step enables
protection again; it carries the cost (a fresh initial replication) and is held without --allow-disruption."""

from __future__ import annotations

from pathlib import Path

from tests.azure_env import VAULT_ID, apply, converged, seed_vault
from tests.azure_fake import FakeAzure
from tests.helpers import copy_specs, edit_text, out, plan_json, run

ASSOCIATION = "asr.policy_association:acmecorp/AcmeCorp Cloud"
VM01 = "asr.protected_item:acmecorp/VM01"


def _rename_policy(specs: Path) -> None:
    edit_text(specs / "tenants" / "acmecorp.yaml", "name: AcmeCorp-Policy\n", "name: AcmeCorp-Policy-v2\n")


def test_switching_a_protected_clouds_policy_is_one_ordered_disruptive_change(azure: FakeAzure, tmp_path: Path) -> None:
    seed_vault(azure)
    specs = copy_specs(tmp_path)
    apply(specs)
    _rename_policy(specs)

    document = plan_json(specs, Path("estate.db"))
    by_address = {c["address"]: c for c in document["changes"]}
    association, vm = by_address[ASSOCIATION], by_address[VM01]
    assert association["action"] == "update" and vm["action"] == "replace"
    assert association["vacates"] == [VM01]  # VM01's protection goes first, inside the association's step
    assert (
        "initial replication" in association["disruptive"] and "recovery points are lost" in association["disruptive"]
    )
    text = out(run("plan", specs))
    assert f"deletes {VM01} first, then makes this change" in text

    azure.calls.clear()
    held = run("apply", specs, "--yes")
    assert held.exit_code == 0, out(held)
    assert "held" in out(held) and "initial replication" in out(held)
    assert azure.get_raw(f"{VAULT_ID}/replicationPolicies/AcmeCorp-Policy-v2") is not None  # not disruptive: done
    assert not [p for m, p in azure.calls if m != "GET" and "/replicationProtect" in p]  # the switch waits

    azure.calls.clear()
    apply(specs)
    # In order: VM01's protection disabled (and waited for), the old mapping removed, the new one made, VM01
    # protected again with the new policy.
    steps = [_step(m, p) for m, p in azure.calls if m in ("PUT", "POST")]
    assert [s for s in steps if s] == ["disable VM01", "unpair", "pair", "enable VM01"]
    enabled = next(p for m, p in azure.calls if m == "PUT" and "/replicationProtectedItems/" in p)
    item = azure.get_raw(enabled)
    assert item is not None and item["properties"]["policyFriendlyName"] == "AcmeCorp-Policy-v2"
    assert converged(specs)


def _step(method: str, path: str) -> str:
    """What an ASR write does, in the switch's terms (empty: not part of it)."""
    if "/replicationProtectedItems/" in path:
        return "disable VM01" if method == "POST" and path.endswith("/remove") else "enable VM01"
    if "/replicationProtectionContainerMappings/" in path:
        return "unpair" if method == "POST" and path.endswith("/remove") else "pair"
    return ""


def test_a_rerun_after_a_failure_mid_switch_converges(azure: FakeAzure, tmp_path: Path) -> None:
    """The new mapping's job fails after VM01's protection was disabled: the rerun pairs the cloud and protects
    VM01 again (a plain create now), without a second disable."""
    seed_vault(azure)
    specs = copy_specs(tmp_path)
    apply(specs)
    _rename_policy(specs)
    azure.fail_next_job(r"/replicationProtectionContainerMappings/[^/]+$", "PairingFailed", "The cloud could not pair.")
    failed = run("apply", specs, "--yes", "--allow-disruption")
    assert failed.exit_code == 1, out(failed)
    assert "PairingFailed" in out(failed)
    apply(specs)
    assert converged(specs)
