"""Adopting objects made outside reconciler: ``lifecycle.adopt`` in a spec (the plan shows ``adopt``) and
``reconciler adopt ADDRESS...``. Adoption writes the ownership marker with the spec's lifecycle (the embedded
estate's marker, Azure tags, the ownership ledger for ASR's untaggable objects) and changes nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.core.addresses import Address
from reconciler.providers.embedded.store import EstateStore
from reconciler.store import db as store_db
from reconciler.store import ownership
from reconciler.store.db import open_store
from tests.azure_env import ACME_SUB, PROVIDER_SUB, VAULT, VAULT_RG
from tests.azure_env import seed_vault as _seed_vault
from tests.azure_fake import FakeAzure
from tests.helpers import (
    EMBEDDED_ENV,
    SPECS,
    copy_specs,
    drift_as_json,
    edit_text,
    init_estate,
    isolate,
    out,
    plan_json,
    run,
)

CLOUD = Address("vmm.cloud", "acmecorp", "AcmeCorp Cloud")


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(tmp_path, monkeypatch, unset=EMBEDDED_ENV, audit_log="audit.jsonl")
    return init_estate(tmp_path / "estate.db")


def _row(estate: Path, address: Address) -> tuple[dict[str, object], dict[str, object], bool]:
    store = EstateStore(estate)
    try:
        row = store.get(address)
        assert row is not None
        return row.data, row.status, row.owned
    finally:
        store.close()


def _change(document: dict[str, Any], address: Address) -> dict[str, Any]:
    return next(c for c in document["changes"] if c["address"] == str(address))


def test_lifecycle_adopt_plans_adopt_and_apply_marks_only(estate: Path, tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    edit_text(
        specs / "tenants" / "acmecorp.yaml",
        "    capacity: {vms: 20, vcpus: 64, memoryGb: 256}\n",
        "    capacity: {vms: 20, vcpus: 64, memoryGb: 256}\n    lifecycle: {adopt: true, prune: true}\n",
    )
    data_before, _, owned = _row(estate, CLOUD)
    assert not owned  # the Azure Pack administrator made the cloud

    change = _change(plan_json(specs, estate), CLOUD)
    assert change["action"] == "adopt" and change["actionReason"] == "adopt"
    assert change["fields"] == [
        {
            "path": "ownership",
            "old": None,
            "new": {"managedBy": "reconciler", "prune": True, "protect": False},
            "immutable": False,
        }
    ]
    assert "logicalNetworks" in str(change["reason"])  # what differs is named, and left for the next plan
    code, drift = drift_as_json(specs, estate, "--target", str(CLOUD))
    entry = next(e for e in drift["resources"] if e["address"] == str(CLOUD))
    assert code == 2 and entry["class"] == "pending" and "adopted" in entry["reason"]

    applied = run("apply", specs, "--yes", "--allow-disruption", "--estate", estate, "--target", str(CLOUD))
    assert applied.exit_code == 0, out(applied)
    data, status, owned = _row(estate, CLOUD)
    assert owned and status["marker"] == {"managedBy": "reconciler", "prune": True, "protect": False}
    assert data == data_before  # adoption changed nothing else
    # Now the tool's: the next plan updates the fields that differ, as for anything it owns.
    after = _change(plan_json(specs, estate), CLOUD)
    assert after["action"] == "update" and {f["path"] for f in after["fields"]} == {"capacity", "logicalNetworks"}


def test_the_adopt_command_adopts_declared_objects_once(estate: Path) -> None:
    vault = Address("asr.vault", "contoso-west", "WAPRecoveryVault")
    result = run("adopt", str(CLOUD), str(vault), "--specs", SPECS, "--yes", "--estate", estate)
    assert result.exit_code == 0, out(result)
    text = out(result)
    assert "2 to adopt" in text and "Apply complete: 2 done" in text
    _, status, owned = _row(estate, vault)
    assert owned and status["marker"] == {"managedBy": "reconciler", "prune": False, "protect": True}
    _, _, cloud_owned = _row(estate, CLOUD)
    assert cloud_owned
    again = run("adopt", str(CLOUD), "--specs", SPECS, "--yes", "--estate", estate)
    assert again.exit_code == 0 and "Nothing to adopt" in out(again)
    runs = run("history", "--format", "json")
    assert '"apply"' in runs.output


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("hyperv.vm_memory:acmecorp/VM01", "VMs are configured, never created or deleted"),
        ("vmm.cloud:acmecorp/Nobody's Cloud", "not declared in the specs"),
        ("not-an-address", "is not an address"),
    ],
)
def test_the_adopt_command_refuses_what_cannot_be_adopted(estate: Path, address: str, message: str) -> None:
    result = run("adopt", str(CLOUD), address, "--specs", SPECS, "--yes", "--estate", estate)
    assert result.exit_code == 1
    assert message in out(result)
    assert not _row(estate, CLOUD)[2]  # nothing adopted: the whole request is refused


def test_azure_tagged_objects_are_adopted_by_their_tags(azure: FakeAzure, tmp_path: Path) -> None:
    _seed_vault(azure, tags={"owner": "provider-ops"})
    specs = copy_specs(tmp_path)
    assert run("apply", specs, "--yes", "--allow-disruption").exit_code == 0
    vault_path = (
        f"/subscriptions/{PROVIDER_SUB}/resourceGroups/{VAULT_RG}/providers/Microsoft.RecoveryServices/vaults/{VAULT}"
    )
    assert "managed-by" not in (azure.get_raw(vault_path) or {})["tags"]  # made by hand: left alone

    result = run("adopt", f"asr.vault:contoso-west/{VAULT}", "--specs", specs, "--yes")
    assert result.exit_code == 0, out(result)
    tags = (azure.get_raw(vault_path) or {})["tags"]
    assert tags["managed-by"] == "reconciler" and tags["site"] == "contoso-west"
    assert tags["reconciler-protect"] == "true" and tags["owner"] == "provider-ops"  # others' tags are kept

    # A storage account someone re-tagged and changed: the spec adopts it, the plan says so, apply only tags it.
    account_path = (
        f"/subscriptions/{ACME_SUB}/resourceGroups/AcmeCorpRecoveryGroup/providers/Microsoft.Storage/"
        "storageAccounts/drstorageacct1"
    )
    account = azure.get_raw(account_path)
    assert account is not None
    account["tags"] = {"owner": "acme-it"}
    account["sku"] = {"name": "Standard_LRS", "tier": "Standard"}
    azure.put_raw(account_path, account)
    with open_store() as store:  # and the history store forgot it: an object made by hand, as far as can be told
        ownership.forget(store, str(account["id"]))
    edit_text(
        specs / "tenants" / "acmecorp.yaml",
        "storageAccount: {name: drstorageacct1, sku: Standard_GRS}",
        "storageAccount: {name: drstorageacct1, sku: Standard_GRS, lifecycle: {adopt: true}}",
    )
    address = Address("azure.storage_account", "acmecorp", "drstorageacct1")
    change = _change(plan_json(specs, Path("estate.db")), address)
    assert change["action"] == "adopt" and "sku" in str(change["reason"])
    assert run("apply", specs, "--yes", "--allow-disruption").exit_code == 0
    account = azure.get_raw(account_path) or {}
    assert account["tags"]["managed-by"] == "reconciler" and account["tags"]["owner"] == "acme-it"
    assert account["sku"]["name"] == "Standard_LRS"  # adoption changed nothing else
    assert _change(plan_json(specs, Path("estate.db")), address)["action"] == "update"


def test_azure_asr_objects_are_adopted_through_the_ledger(azure: FakeAzure, tmp_path: Path) -> None:
    _seed_vault(azure)
    specs = copy_specs(tmp_path)
    assert run("apply", specs, "--yes", "--allow-disruption").exit_code == 0
    policy_id = (
        f"/subscriptions/{PROVIDER_SUB}/resourceGroups/{VAULT_RG}/providers/Microsoft.RecoveryServices/vaults/"
        f"{VAULT}/replicationPolicies/AcmeCorp-Policy"
    )
    with store_db.open_store() as store:
        ownership.forget(store, policy_id)  # as if an operator had made the policy by hand
    result = run("adopt", "asr.replication_policy:acmecorp/AcmeCorp-Policy", "--specs", specs, "--yes")
    assert result.exit_code == 0, out(result)
    assert "1 to adopt" in out(result)
    with store_db.open_store() as store:
        found = ownership.lookup(store, [policy_id])
    assert [m.address for m in found.values()] == ["asr.replication_policy:acmecorp/AcmeCorp-Policy"]
