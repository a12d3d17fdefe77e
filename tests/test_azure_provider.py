"""The Azure provider end to end: the CLI plans and applies the example specs with the eight Azure kinds served by
the local HTTPS fake of ARM (tests/azure_fake.py, driven by the real SDK clients and a real azure-identity
ClientSecretCredential against the fake's Azure AD token endpoint) and every other kind by the embedded estate.

Covered: convergence (plan, apply, plan again: no changes), bulk reads (list calls only, per vault and per tenant
scope), throttling with Retry-After, a refused request (ARM code in the summary, dependents skipped, a rerun
converges), a missing vault (404: planned as creates), a failed ASR job, an untagged object reported and never
changed, prune disabling protection only for what the tool owns; and the dispatcher's table (each kind one handler)."""

from __future__ import annotations

import copy
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from reconciler.core import kinds as core_kinds
from reconciler.core.errors import PermanentError
from reconciler.providers.azure.context import AzureContext
from reconciler.providers.azure.provider import KINDS, AzureProvider
from reconciler.providers.azure.settings import AzureSettings, Cloud
from reconciler.providers.base import HandlerTable
from reconciler.store import db as store_db
from tests.azure_env import (
    ACME_SUB,
    PROVIDER_SUB,
    VAULT,
    VAULT_RG,
    apply,
    changes,
    seed_vault,
)
from tests.azure_fake import FakeAzure
from tests.helpers import copy_specs, edit_text, out, run

AZURE_KINDS = sorted(KINDS)
_seed_vault = seed_vault
_apply = apply
_changes = changes


def test_each_azure_kind_has_exactly_one_handler() -> None:
    """The dispatcher's table: every kind the provider declares (and the registry routes to it) reaches one
    handler, and no handler serves a kind the provider does not declare."""
    settings = AzureSettings(cloud=Cloud("custom", "https://arm.invalid", "https://login.invalid"))
    with AzureProvider(settings, AzureContext()) as provider:
        served = Counter(kind for handler in provider.table.handlers for kind in handler.kinds)
        assert served == Counter(provider.kinds)
        assert provider.table.kinds == provider.kinds
        assert all(kind in provider.table[kind].kinds for kind in provider.kinds)
        assert provider.kinds <= set(core_kinds.KINDS)  # each has its KindInfo
        with pytest.raises(PermanentError, match=r"no handler for vmm\.cloud"):
            provider.table["vmm.cloud"]
        # Two handlers claiming one kind is refused when the table is built, not found at run time.
        with pytest.raises(ValueError, match=r"asr\.vault has two handlers"):
            HandlerTable("azure", [*provider.table.handlers, copy.copy(provider.table["asr.vault"])])


def test_plan_apply_converges_with_azure_on_the_fake(azure: FakeAzure, tmp_path: Path) -> None:
    _seed_vault(azure)
    specs = copy_specs(tmp_path)
    before = _changes(specs)
    azure_creates = {a for a, action in before.items() if a.split(":")[0] in AZURE_KINDS}
    # The vault and its resource group exist (made by hand) and the VMM server is registered: all else is created.
    assert {a.split(":")[0] for a in azure_creates} == set(AZURE_KINDS) - {"asr.vault", "asr.vmm_server"}
    assert all(before[a] == "create" for a in azure_creates)

    azure.calls.clear()
    text = _apply(specs)
    assert "Apply complete" in text and " 0 failed" in text
    # The steps re-read their own object (a GET, a list in its container): the vault-wide list runs for the
    # plan only (one page: the vault protects nothing yet; the protected items' read, and the recovery plans'
    # to name their VMs), never once per step.
    vault_wide = [p for m, p in azure.calls if m == "GET" and re.search(r"/vaults/[^/]+/replicationProtectedItems$", p)]
    assert len(vault_wide) == 2
    # The ASR job's progress is reported while a protection is enabled.
    assert re.search(r"enable protection of VM01", text) or "create asr.protected_item:acmecorp/VM01" in text

    # The objects are in Azure, in Azure's shapes, with the tool's tags.
    sa = azure.get_raw(
        f"/subscriptions/{ACME_SUB}/resourceGroups/AcmeCorpRecoveryGroup/providers/Microsoft.Storage/storageAccounts/drstorageacct1"
    )
    assert sa is not None and sa["tags"]["managed-by"] == "reconciler" and sa["tags"]["tenant"] == "acmecorp"
    assert sa["sku"]["name"] == "Standard_GRS"
    # The vault was made by hand: the tool neither adopted nor tagged it.
    vault = azure.get_raw(
        f"/subscriptions/{PROVIDER_SUB}/resourceGroups/{VAULT_RG}/providers/Microsoft.RecoveryServices/vaults/{VAULT}"
    )
    assert vault is not None and "managed-by" not in (vault.get("tags") or {})

    # Plan again: no changes (RS0 vs Standard, read vs write names, id case, storage id vs name all normalized).
    again = run("plan", specs, "--detailed-exitcode")
    assert again.exit_code == 0, out(again)
    assert "No changes" in out(again)
    # Each subscription signed in to its own Azure AD tenant: the vault's and each tenant plan's.
    assert {"99999999-9999-9999-9999-999999999999", "11111111-1111-1111-1111-111111111111"} <= set(azure.token_tenants)
    assert "33333333-3333-3333-3333-333333333333" in azure.token_tenants


def _plan_calls(azure: FakeAzure, tmp_path: Path) -> tuple[list[str], list[str], str]:
    """The GETs and the Resource Graph queries of a plan of the converged example, and what the plan printed."""
    _seed_vault(azure)
    specs = copy_specs(tmp_path)
    _apply(specs)
    azure.calls.clear()
    azure.graph.queries.clear()
    result = run("plan", specs, "--detailed-exitcode")
    assert result.exit_code == 0, out(result)
    gets = [path for method, path in azure.calls if method == "GET"]
    queries = [path for method, path in azure.calls if method == "POST" and path.casefold().endswith("/resources")]
    assert len(gets) + len(queries) == len(azure.calls), "a plan only reads"
    lists = {
        re.sub(r"/subscriptions/[^/]+", "/subscriptions/S", p, flags=re.I).casefold().rsplit("/", 1)[-1] for p in gets
    }
    # Collections only: no GET of one resource where a list exists.
    assert lists <= {
        "vaults",
        "replicationpolicies",
        "replicationprotectioncontainermappings",
        "replicationnetworkmappings",
        "replicationprotecteditems",
        "replicationrecoveryplans",
        "replicationfabrics",
        "replicationrecoveryservicesproviders",
        "resourcegroups",
        "storageaccounts",
        "virtualnetworks",
    }, lists
    return gets, queries, out(result)


def test_plan_reads_tenants_with_one_resource_graph_query_per_kind_and_directory(
    azure: FakeAzure, tmp_path: Path
) -> None:
    gets, queries, _ = _plan_calls(azure, tmp_path)
    # One vault: 8 vault-wide lists (the vault, policies, container and network mappings, protected items,
    # recovery plans, fabrics, ASR Providers) and its subscription's resource groups. The two tenants, each in
    # its own directory: one query per tenant-side kind (groups, storage accounts, networks) per directory.
    assert len({p.casefold() for p in gets}) == 8 + 1
    assert len(queries) == 3 * 2
    assert sorted(len(subscriptions) for subscriptions in azure.graph.queries) == [1] * 6


def test_plan_lists_per_subscription_where_resource_graph_is_off_or_refused(
    azure: FakeAzure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    azure.graph.refuse = True  # 403 in every directory: each says so once, then lists per subscription
    gets, queries, printed = _plan_calls(azure, tmp_path)
    assert printed.count("resource_graph_refused") == 2, printed  # once per directory, not once per query
    # As above, and for the 2 tenants a resource-group list each, and a storage and a network list per recovery
    # resource group. Whatever the number of objects (more pages follow nextLink on the same path).
    assert len({p.casefold() for p in gets}) == 8 + 1 + 2 * 3
    assert 1 <= len(queries) <= 3 * 2
    monkeypatch.setenv("RECONCILER_AZURE_RESOURCE_GRAPH", "off")
    gets, queries, printed = _plan_calls(azure, tmp_path / "off")
    assert "resource_graph_refused" not in printed
    assert len({p.casefold() for p in gets}) == 8 + 1 + 2 * 3
    assert queries == []


def test_throttling_is_retried_after_the_servers_retry_after(azure: FakeAzure, tmp_path: Path) -> None:
    _seed_vault(azure)
    specs = copy_specs(tmp_path)
    azure.inject("GET", r"/replicationPolicies$", 429, "TooManyRequests", "slow down", retry_after=1, times=1)
    started = time.monotonic()
    result = run("plan", specs)
    assert result.exit_code == 0, out(result)
    assert time.monotonic() - started >= 1.0  # waited as long as the server asked
    policy_lists = [p for m, p in azure.calls if m == "GET" and p.casefold().endswith("/replicationpolicies")]
    assert len(policy_lists) == 2


def test_a_refused_request_fails_its_step_skips_dependents_and_a_rerun_converges(
    azure: FakeAzure, tmp_path: Path
) -> None:
    _seed_vault(azure)
    specs = copy_specs(tmp_path)
    azure.inject("PUT", r"/storageAccounts/drstorageacct1$", 400, "InvalidRequestContent", "sku is not allowed here")
    result = run("apply", specs, "--yes", "--allow-disruption")
    text = out(result)
    assert result.exit_code == 1, text
    assert "InvalidRequestContent" in text and "sku is not allowed here" in text
    # The policy names the storage account: it waits; Fabrikam is independent and done.
    assert (
        azure.get_raw(
            f"/Subscriptions/{PROVIDER_SUB}/resourceGroups/{VAULT_RG}/providers/Microsoft.RecoveryServices/vaults/{VAULT}/replicationPolicies/AcmeCorp-Policy"
        )
        is None
    )
    assert (
        azure.get_raw(
            f"/Subscriptions/{PROVIDER_SUB}/resourceGroups/{VAULT_RG}/providers/Microsoft.RecoveryServices/vaults/{VAULT}/replicationPolicies/Fabrikam-Policy"
        )
        is not None
    )
    _apply(specs)
    assert run("plan", specs, "--detailed-exitcode").exit_code == 0


def test_a_missing_vault_is_planned_as_creates(azure: FakeAzure, tmp_path: Path) -> None:
    azure.add_resource_group(PROVIDER_SUB, VAULT_RG, "westus")  # no vault in it: ASR lists answer 404
    specs = copy_specs(tmp_path)
    changes = _changes(specs)
    assert changes["asr.vault:contoso-west/WAPRecoveryVault"] == "create"
    assert changes["asr.replication_policy:acmecorp/AcmeCorp-Policy"] == "create"
    assert any(p.casefold().endswith("/replicationpolicies") for _m, p in azure.calls)


def test_a_failed_asr_job_names_its_error_and_a_rerun_converges(azure: FakeAzure, tmp_path: Path) -> None:
    _seed_vault(azure)
    specs = copy_specs(tmp_path)
    azure.fail_next_job(r"/replicationProtectedItems/", "70094", "The VM's replication could not be enabled")
    result = run("apply", specs, "--yes", "--allow-disruption")
    text = out(result)
    assert result.exit_code == 1, text
    assert "70094" in text and "could not be enabled" in text
    _apply(specs)
    assert run("plan", specs, "--detailed-exitcode").exit_code == 0


def test_prune_disables_protection_only_of_what_the_tool_owns(azure: FakeAzure, tmp_path: Path) -> None:
    _seed_vault(azure)
    specs = copy_specs(tmp_path)
    tenant = specs / "tenants" / "fabrikam.yaml"
    edit_text(
        tenant,
        "    - name: FAB-WEB01\n      protect: true\n",
        "    - name: FAB-WEB01\n      protect: true\n      lifecycle: {prune: true}\n",
    )
    _apply(specs)
    items = "/replicationProtectedItems"
    assert sum(1 for m, p in azure.calls if m == "PUT" and items in p) == 3  # VM01, FAB-WEB01, FAB-SQL01
    # The recovery plan drops FAB-WEB01 before its protection is disabled (it waits for the plan's update).

    edit_text(tenant, "    - name: FAB-WEB01\n      protect: true\n", "    - name: FAB-WEB01\n      protect: false\n")
    edit_text(tenant, "          - vms: [FAB-WEB01]             # then the web server that needs it\n", "")
    kept = _changes(specs)
    assert "asr.protected_item:fabrikam/FAB-WEB01" not in kept  # no delete without --prune
    text = _apply(specs, "--prune")
    assert "delete asr.protected_item:fabrikam/FAB-WEB01" in text
    removes = [
        p
        for m, p in azure.calls
        if m == "POST" and p.casefold().endswith("/remove") and items.casefold() in p.casefold()
    ]
    assert len(removes) == 1
    assert run("plan", specs, "--detailed-exitcode", "--prune").exit_code == 0


def test_the_ledger_lives_in_the_store(azure: FakeAzure, tmp_path: Path) -> None:
    """ASR objects carry no tags: what the tool created there is recorded in the history store's ledger."""
    _seed_vault(azure)
    specs = copy_specs(tmp_path)
    _apply(specs)
    from reconciler.store import ownership

    with store_db.open_store() as store:
        found = ownership.lookup(
            store,
            [
                f"/subscriptions/{PROVIDER_SUB}/resourceGroups/{VAULT_RG}/providers/Microsoft.RecoveryServices/vaults/{VAULT}/replicationPolicies/AcmeCorp-Policy"
            ],
        )
    assert [m.address for m in found.values()] == ["asr.replication_policy:acmecorp/AcmeCorp-Policy"]


def test_bad_settings_and_a_dead_endpoint_are_clear_errors(
    azure: FakeAzure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = copy_specs(tmp_path)
    monkeypatch.setenv("RECONCILER_AZURE_CLOUD", "mars")
    result = run("plan", specs)
    assert result.exit_code == 1
    assert "RECONCILER_AZURE_CLOUD='mars': use public, usgov, china, or custom" in out(result)

    monkeypatch.setenv("RECONCILER_AZURE_CLOUD", "custom")
    monkeypatch.delenv("AZURE_CLIENT_SECRET")
    result = run("plan", specs)
    assert result.exit_code == 1
    assert "RECONCILER_AZURE_CREDENTIAL=client-secret needs AZURE_CLIENT_SECRET" in out(result)

    monkeypatch.setenv("AZURE_CLIENT_SECRET", "fake-secret-for-the-local-token-endpoint")
    azure.stop()  # nothing answers at the endpoint any more
    result = run("plan", specs)
    text = out(result)
    assert result.exit_code == 1, text
    assert "reading the live state failed" in text and "Connection refused" in text
    assert "fake-secret-for-the-local-token-endpoint" not in text


def test_updates_converge_and_drift_names_a_change_made_in_azure(azure: FakeAzure, tmp_path: Path) -> None:
    _seed_vault(azure)
    specs = copy_specs(tmp_path)
    _apply(specs)
    acme = specs / "tenants" / "acmecorp.yaml"
    edit_text(acme, "replicationIntervalSeconds: 900", "replicationIntervalSeconds: 300")
    edit_text(acme, "{name: drstorageacct1, sku: Standard_GRS}", "{name: drstorageacct1, sku: Standard_LRS}")
    edit_text(
        acme,
        "subnets: [{name: Subnet1, prefix: 10.0.1.0/24}]",
        "subnets: [{name: Subnet1, prefix: 10.0.1.0/24}, {name: Subnet2, prefix: 10.0.2.0/24}]",
    )
    edit_text(acme, "defaultTargetVmSize: Standard_D2s_v3", "defaultTargetVmSize: Standard_D4s_v3")
    assert _changes(specs) == {
        "asr.replication_policy:acmecorp/AcmeCorp-Policy": "update",
        "azure.storage_account:acmecorp/drstorageacct1": "update",
        "azure.virtual_network:acmecorp/YellowNetwork": "update",
        "azure.virtual_network:acmecorp/YellowNetwork-drill": "update",  # the drill network mirrors its subnets
        "asr.protected_item:acmecorp/VM01": "update",
    }
    _apply(specs)
    assert any(m == "PATCH" and p.endswith("/replicationPolicies/AcmeCorp-Policy") for m, p in azure.calls)
    assert any(m == "PATCH" and "/replicationProtectedItems/" in p for m, p in azure.calls)
    assert run("plan", specs, "--detailed-exitcode").exit_code == 0

    # Someone changes the policy in the portal: drift names the field, and the next apply puts it back.
    vault_id = (
        f"/Subscriptions/{PROVIDER_SUB}/resourceGroups/{VAULT_RG}/providers/Microsoft.RecoveryServices/vaults/{VAULT}"
    )
    policy = azure.get_raw(f"{vault_id}/replicationPolicies/AcmeCorp-Policy")
    assert policy is not None
    policy["properties"]["providerSpecificDetails"]["recoveryPointHistoryDurationInHours"] = 12
    azure.put_raw(f"{vault_id}/replicationPolicies/AcmeCorp-Policy", policy)
    drift = run("drift", specs, "--format", "json")
    assert drift.exit_code == 2, out(drift)
    assert '"recoveryPointHours"' in drift.stdout
    _apply(specs)
    assert run("drift", specs).exit_code == 0


def test_a_saved_plan_is_refused_when_azure_changed_since(azure: FakeAzure, tmp_path: Path) -> None:
    _seed_vault(azure)
    specs = copy_specs(tmp_path)
    _apply(specs)
    edit_text(specs / "tenants" / "acmecorp.yaml", "replicationIntervalSeconds: 900", "replicationIntervalSeconds: 300")
    saved = run("plan", specs, "-o", "plan.json")
    assert saved.exit_code == 0, out(saved)
    vault_id = (
        f"/Subscriptions/{PROVIDER_SUB}/resourceGroups/{VAULT_RG}/providers/Microsoft.RecoveryServices/vaults/{VAULT}"
    )
    policy = azure.get_raw(f"{vault_id}/replicationPolicies/AcmeCorp-Policy")
    assert policy is not None
    policy["properties"]["providerSpecificDetails"]["applicationConsistentSnapshotFrequencyInHours"] = 2
    azure.put_raw(f"{vault_id}/replicationPolicies/AcmeCorp-Policy", policy)
    before = len(azure.calls)
    refused = run("apply", "plan.json", "--yes")
    assert refused.exit_code == 1, out(refused)
    assert "The live state changed since plan.json was made" in out(refused)
    assert "asr.replication_policy:acmecorp/AcmeCorp-Policy" in out(refused)
    # Read to compare (GETs, and Resource Graph queries, which are POSTs that only read), wrote nothing.
    assert {m for m, p in azure.calls[before:] if not p.casefold().endswith("resourcegraph/resources")} == {"GET"}


def test_one_directory_can_sign_in_with_an_app_of_its_own(
    azure: FakeAzure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fabrikam's subscription lives in its own directory (a CSP customer) that consented to another app."""
    _seed_vault(azure)
    monkeypatch.setenv("AZURE_CLIENT_ID__33333333_3333_3333_3333_333333333333", "fabrikam-app")
    monkeypatch.setenv("AZURE_CLIENT_SECRET__33333333_3333_3333_3333_333333333333", "fake-fabrikam-secret")
    result = run("plan", copy_specs(tmp_path))
    assert result.exit_code == 0, out(result)
    assert ("33333333-3333-3333-3333-333333333333", "fabrikam-app") in azure.token_clients
    assert ("11111111-1111-1111-1111-111111111111", "reconciler-tests") in azure.token_clients


def test_an_owned_vault_is_patched_never_put_again(azure: FakeAzure, tmp_path: Path) -> None:
    """The vault carries the tool's tags, written when prune/protect were off; the spec now protects it. The
    update PATCHes the tags (a PUT would reset the vault's other settings) and keeps the tags others wrote."""
    tags = {
        "managed-by": "reconciler",
        "site": "contoso-west",
        "reconciler-prune": "false",
        "reconciler-protect": "false",
    }
    _seed_vault(azure, tags={**tags, "cost-center": "dr"})
    specs = copy_specs(tmp_path)
    assert _changes(specs, "--target", "asr.vault")["asr.vault:contoso-west/WAPRecoveryVault"] == "update"
    azure.calls.clear()
    _apply(specs, "--target", "asr.vault")
    vault_path = (
        f"/subscriptions/{PROVIDER_SUB}/resourceGroups/{VAULT_RG}/providers/Microsoft.RecoveryServices/vaults/{VAULT}"
    )
    writes = [(m, p) for m, p in azure.calls if m != "GET"]
    assert [m for m, _p in writes] == ["PATCH"], writes
    vault = azure.get_raw(vault_path)
    assert vault is not None
    assert vault["tags"]["reconciler-protect"] == "true" and vault["tags"]["cost-center"] == "dr"
    assert run("plan", specs, "--target", "asr.vault", "--detailed-exitcode").exit_code == 0
