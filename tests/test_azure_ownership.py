"""What is the tool's in Azure, end to end against the fake ARM server: the vault's resource group is a resource
the tool creates (owned and tagged) when it is missing; an object made by hand is reported and never changed;
anything in a tenant's recovery resource group that no spec declares is reported; an object the tool created
whose managed-by tag someone removed is drift, and apply tags it again; a missing VMM registration is a plan
error naming the fix (blocked, not an error, while the plan creates the vault)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.azure_env import (
    ACME_SUB,
    PROVIDER_SUB,
    VAULT,
    VAULT_RG,
    apply,
    changes,
    converged,
    register_vmm01,
    seed_vault,
)
from tests.azure_fake import FakeAzure
from tests.helpers import copy_specs, out, plan_json, run

ACME_RG = f"/subscriptions/{ACME_SUB}/resourceGroups/AcmeCorpRecoveryGroup"
VAULT_GROUP = f"/subscriptions/{PROVIDER_SUB}/resourceGroups/{VAULT_RG}"


def _hand_made_storage_account(fake: FakeAzure, name: str, *, sku: str) -> str:
    """A storage account someone made in AcmeCorp's recovery group, without the tool's tags."""
    path = f"{ACME_RG}/providers/Microsoft.Storage/storageAccounts/{name}"
    account = fake._storage_object(ACME_SUB, "AcmeCorpRecoveryGroup", name, "westus")
    account["sku"] = {"name": sku, "tier": "Standard"}
    account["tags"] = {"owner": "acme-it"}
    fake.put_raw(path, account)
    return path


def test_an_object_made_by_hand_is_reported_and_never_changed(azure: FakeAzure, tmp_path: Path) -> None:
    seed_vault(azure)
    azure.add_resource_group(ACME_SUB, "AcmeCorpRecoveryGroup", "westus", tags={"owner": "acme-it"})
    path = _hand_made_storage_account(azure, "drstorageacct1", sku="Standard_LRS")
    specs = copy_specs(tmp_path)
    document = plan_json(specs, Path("estate.db"))
    change = next(c for c in document["changes"] if c["address"] == "azure.storage_account:acmecorp/drstorageacct1")
    assert change["action"] == "noop" and change["noopReason"] == "unowned"
    assert [f["path"] for f in change["fields"]] == ["sku"]
    apply(specs)
    account = azure.get_raw(path)
    assert account is not None and account["sku"]["name"] == "Standard_LRS" and "managed-by" not in account["tags"]


def test_an_undeclared_object_in_a_tenants_recovery_group_is_reported(azure: FakeAzure, tmp_path: Path) -> None:
    """The recovery resource group is the tenant's, declared in the specs: what else is in it is unmanaged."""
    seed_vault(azure)
    specs = copy_specs(tmp_path)
    apply(specs)
    rogue_path = _hand_made_storage_account(azure, "roguestore01", sku="Standard_LRS")
    document = plan_json(specs, Path("estate.db"))
    rogue = next(c for c in document["changes"] if c["address"] == "azure.storage_account:acmecorp/roguestore01")
    assert rogue["action"] == "noop" and rogue["noopReason"] == "not-declared"
    assert "never deleted" in rogue["reason"]
    drift = run("drift", specs, "--format", "json")
    assert drift.exit_code == 2, out(drift)
    entry = next(e for e in json.loads(drift.stdout)["resources"] if e["name"] == "roguestore01")
    assert entry["class"] == "unmanaged"
    apply(specs, "--prune")
    assert azure.get_raw(rogue_path) is not None  # never deleted, even with --prune


def test_a_removed_managed_by_tag_is_drift_and_apply_puts_it_back(azure: FakeAzure, tmp_path: Path) -> None:
    seed_vault(azure)
    specs = copy_specs(tmp_path)
    apply(specs)
    group = azure.get_raw(ACME_RG)
    assert group is not None and group["tags"]["managed-by"] == "reconciler"
    group["tags"] = {k: v for k, v in group["tags"].items() if k != "managed-by"}
    azure.put_raw(ACME_RG, group)

    drift = run("drift", specs, "--format", "json")
    assert drift.exit_code == 2, out(drift)
    entry = next(
        e
        for e in json.loads(drift.stdout)["resources"]
        if e["address"] == "azure.resource_group:acmecorp/AcmeCorpRecoveryGroup"
    )
    assert entry["class"] == "drifted", entry
    assert "ownership marker removed outside reconciler" in entry["reason"]
    assert changes(specs) == {"azure.resource_group:acmecorp/AcmeCorpRecoveryGroup": "update"}
    apply(specs)
    restored = azure.get_raw(ACME_RG)
    assert restored is not None and restored["tags"]["managed-by"] == "reconciler"
    assert converged(specs)


def test_a_missing_vault_resource_group_is_created_and_the_registration_waits(azure: FakeAzure, tmp_path: Path) -> None:
    """An empty provider subscription: the plan creates the vault's resource group (owned, tagged with the site)
    and the vault; the VMM server cannot be registered before the vault exists, so what needs it waits
    (blocked, not an error) and the rest is applied. Once the server is registered, the next apply finishes."""
    specs = copy_specs(tmp_path)
    document = plan_json(specs, Path("estate.db"))
    by_address = {c["address"]: c for c in document["changes"]}
    assert by_address[f"azure.resource_group:contoso-west/{VAULT_RG}"]["action"] == "create"
    assert by_address[f"asr.vault:contoso-west/{VAULT}"]["action"] == "create"
    registration = by_address["asr.vmm_server:contoso-west/VMM01.contoso.int"]
    assert registration["noopReason"] == "blocked" and not registration["error"]
    assert "DRConfigurator.exe" in registration["reason"]
    assert by_address["asr.policy_association:acmecorp/AcmeCorp Cloud"]["noopReason"] == "blocked"

    text = apply(specs)
    assert "0 failed" in text
    group = azure.get_raw(VAULT_GROUP)
    assert group is not None and group["tags"]["managed-by"] == "reconciler" and group["tags"]["site"] == "contoso-west"

    # The operator registers VMM01 with the new vault (the vault settings file and DRConfigurator.exe).
    register_vmm01(azure)
    apply(specs)
    assert converged(specs)


def test_an_unregistered_vmm_server_is_a_plan_error_naming_the_fix(azure: FakeAzure, tmp_path: Path) -> None:
    azure.add_vault(PROVIDER_SUB, VAULT_RG, VAULT, "westus", vmm_server=None)
    specs = copy_specs(tmp_path)
    result = run("plan", specs)
    text = out(result)
    assert result.exit_code == 1, text
    assert "VMM server VMM01.contoso.int is not registered with the site's recovery vault" in text
    assert "DRConfigurator.exe /r /Friendlyname VMM01.contoso.int /Credentials" in text
    assert "Get-AzRecoveryServicesVaultSettingsFile" in text
