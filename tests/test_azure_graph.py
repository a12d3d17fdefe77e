"""Resource Graph on the tenant side (``providers/azure/graph.py``): which tenants share a query, the query
itself, every page of a long answer, and a change made outside the tool seen through the graph as through the
list calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.providers.azure import graph
from reconciler.providers.azure.context import TenantRef
from reconciler.providers.azure.settings import AzureSettings, SettingsError
from tests.azure_env import ACME_SUB, apply, changes, seed_vault
from tests.azure_fake import FakeAzure
from tests.helpers import copy_specs


def _tenant(name: str, directory: str, subscription: str) -> TenantRef:
    return TenantRef(name, "site", subscription, directory, "rg", "cloud")


def test_tenants_of_a_directory_share_a_query_of_at_most_300_subscriptions() -> None:
    tenants = [_tenant(f"t{i:03}", "DIR-A", f"sub-{i:03}") for i in range(301)]
    tenants += [_tenant("other", "dir-b", "sub-x"), _tenant("t000-twin", "dir-a", "SUB-000")]
    scopes = graph.batches(tenants)
    a = [scopes[f"t{i:03}"] for i in range(301)]
    assert a.count("directory/dir-a/0") == 300 and a.count("directory/dir-a/1") == 1
    assert scopes["other"] == "directory/dir-b/0"
    assert scopes["t000-twin"] == scopes["t000"]  # one subscription, one place, whatever its spelling


def test_the_query_lists_one_type_in_the_named_groups_with_the_ids_paging_needs() -> None:
    text = graph.query_text("azure.storage_account", ["RG-Recovery", "rg-recovery", "o'brien"])
    assert text.startswith("Resources | where type =~ 'microsoft.storage/storageaccounts'")
    assert "resourceGroup in~ ('o\\'brien', 'rg-recovery')" in text
    assert "project id," in text and text.endswith("order by id asc")
    assert graph.query_text("azure.resource_group").startswith("ResourceContainers | where type =~ ")


def test_the_setting_turns_it_off_or_says_what_it_takes() -> None:
    base = {"RECONCILER_AZURE": "on", "RECONCILER_AZURE_CLOUD": "public"}
    on = AzureSettings.from_env(base)
    assert on is not None and on.resource_graph is True  # on unless turned off
    off = AzureSettings.from_env({**base, "RECONCILER_AZURE_RESOURCE_GRAPH": "off"})
    assert off is not None and off.resource_graph is False
    with pytest.raises(SettingsError, match="RECONCILER_AZURE_RESOURCE_GRAPH='sometimes': use on"):
        AzureSettings.from_env({**base, "RECONCILER_AZURE_RESOURCE_GRAPH": "sometimes"})


def test_every_page_is_read_and_a_change_outside_the_tool_shows(
    azure: FakeAzure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph, "PAGE_ROWS", 1)  # every row its own page
    seed_vault(azure)
    specs = copy_specs(tmp_path)
    apply(specs)
    azure.graph.queries.clear()
    assert changes(specs) == {}
    pages = len(azure.graph.queries)
    assert pages > 6, "one page per row: more than one query per kind and directory"
    # Someone removes the tool's tags from a tenant's resource group: read through the graph, it is the
    # tool's own object with its marker lost (the ledger remembers it), and the plan puts the tags back.
    group = next(
        obj
        for key, obj in azure._store.items()
        if key.startswith(f"/subscriptions/{ACME_SUB}/resourcegroups/") and key.count("/") == 4
    )
    group["tags"] = {}
    planned = changes(specs)
    assert any(address.startswith("azure.resource_group") for address in planned), planned


def test_one_directory_that_sees_every_tenant_is_one_query_per_kind() -> None:
    """Azure Lighthouse: CSP tenants in their own directories, delegated to the provider's; its query sees them all."""
    tenants = [_tenant("a", "dir-a", "sub-a"), _tenant("b", "dir-b", "sub-b")]
    assert len(set(graph.batches(tenants).values())) == 2
    shared = graph.batches(tenants, directory="PROVIDER-DIR")
    assert set(shared.values()) == {"directory/provider-dir/0"}
    base = {"RECONCILER_AZURE": "on"}
    guid = "99999999-9999-9999-9999-999999999999"
    on = AzureSettings.from_env({**base, "RECONCILER_AZURE_GRAPH_DIRECTORY": guid})
    assert on is not None and on.graph_directory == guid
    with pytest.raises(SettingsError, match="RECONCILER_AZURE_GRAPH_DIRECTORY='contoso': the id"):
        AzureSettings.from_env({**base, "RECONCILER_AZURE_GRAPH_DIRECTORY": "contoso"})


def test_tenants_in_their_own_directories_share_the_providers_query(
    azure: FakeAzure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider_directory = "77777777-7777-7777-7777-777777777777"  # none of the specs names it
    monkeypatch.setenv("RECONCILER_AZURE_GRAPH_DIRECTORY", provider_directory)
    seed_vault(azure)
    specs = copy_specs(tmp_path)
    apply(specs)
    azure.graph.queries.clear()
    azure.token_tenants.clear()
    assert changes(specs) == {}
    # The two tenants sign in to two directories; their resources are listed once per kind, from the provider's.
    assert sorted(len(subscriptions) for subscriptions in azure.graph.queries) == [2, 2, 2]
    assert provider_directory in azure.token_tenants
