"""How the Azure provider copes with the service, against the fake ARM server and the real SDK: a throttled
request is retried by itself after the service's Retry-After (capped), a 501 is never retried, long-running
operations poll at the configured interval when the service says Retry-After: 0, a step reads its object once,
the vault's topology is read once per apply, a subscription missing a resource provider is registered on the way,
and the whole loop converges with one request in three throttled.

Sleeps go through the SDK transport's ``sleep``; the SDK-level tests record them instead of waiting (no wall
clock)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from azure.core.pipeline.transport import RequestsTransport
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.storage import StorageManagementClient

from reconciler.core.addresses import Address
from reconciler.core.errors import TemporaryError
from reconciler.core.resources import Resource
from reconciler.providers.azure.context import AzureContext, VaultRef
from reconciler.providers.azure.provider import AzureProvider
from reconciler.providers.azure.settings import SettingsError
from tests.azure_env import ACME_SUB, PROVIDER_SUB, VAULT, VAULT_RG, apply, azure_settings, converged, seed_vault
from tests.azure_fake import FakeAzure
from tests.helpers import copy_specs, edit_text, out, run


class RecordingTransport(RequestsTransport):  # type: ignore[misc]  # azure-core's transport is untyped here
    """The SDK's own transport, recording the delays it is asked to wait instead of waiting."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.slept: list[float] = []

    def sleep(self, duration: float) -> None:
        self.slept.append(duration)


def _client(fake: FakeAzure, cls: Any, subscription: str, **env: str) -> tuple[Any, RecordingTransport]:
    """An SDK client as the provider builds it (its settings' kwargs), on a recording transport."""
    transport = RecordingTransport(connection_verify=fake.ca_path)
    kwargs = {**azure_settings(fake, **env).client_kwargs(), "transport": transport}
    return cls(fake.credential(), subscription, **kwargs), transport


def test_a_throttled_request_is_retried_by_itself_after_the_capped_retry_after(fake: FakeAzure) -> None:
    seed_vault(fake)
    client, transport = _client(
        fake, SiteRecoveryManagementClient, PROVIDER_SUB, RECONCILER_AZURE_MAX_RETRY_AFTER_S="90"
    )
    fake.inject("GET", r"/replicationPolicies$", 429, "TooManyRequests", "Slow down.", retry_after=600, times=2)
    assert list(client.replication_policies.list(VAULT_RG, VAULT)) == []
    assert [p for m, p in fake.calls if p.lower().endswith("/replicationpolicies")] == [
        f"/subscriptions/{PROVIDER_SUB}/resourceGroups/{VAULT_RG}/providers/Microsoft.RecoveryServices/vaults/"
        f"{VAULT}/replicationPolicies"
    ] * 3  # the request itself, twice again: nothing else was repeated
    assert transport.slept == [90.0, 90.0]  # the service asked for 600 s: cut to the setting


def test_a_501_is_permanent_and_sent_once(fake: FakeAzure) -> None:
    seed_vault(fake)
    client, _ = _client(fake, SiteRecoveryManagementClient, PROVIDER_SUB)
    fake.inject("GET", r"/replicationPolicies$", 501, "NotImplemented", "Not supported here.", times=6)
    with pytest.raises(Exception, match="NotImplemented"):
        list(client.replication_policies.list(VAULT_RG, VAULT))
    assert sum(1 for _m, p in fake.calls if p.lower().endswith("/replicationpolicies")) == 1


def test_an_update_answered_501_fails_its_step_after_one_request(azure: FakeAzure, tmp_path: Path) -> None:
    seed_vault(azure)
    specs = copy_specs(tmp_path)
    apply(specs)
    edit_text(specs / "tenants" / "acmecorp.yaml", "sku: Standard_GRS}", "sku: Standard_LRS}")
    azure.inject("PATCH", r"/storageAccounts/drstorageacct1$", 501, "NotImplemented", "Not supported.", times=9)
    azure.calls.clear()
    result = run("apply", specs, "--yes")
    assert result.exit_code == 1 and "NotImplemented" in out(result), out(result)
    assert sum(1 for m, _p in azure.calls if m == "PATCH") == 1


def test_long_running_operations_poll_at_the_configured_interval(fake: FakeAzure) -> None:
    """The fake answers every poll with Retry-After: 0; the SDK would then wait its 30 s default."""
    fake.add_resource_group(ACME_SUB, "rg-poll", "westus")
    fake.job_polls = 3
    storage, transport = _client(fake, StorageManagementClient, ACME_SUB)
    body = {"location": "westus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}
    storage.storage_accounts.begin_create("rg-poll", "sapolling01", body).result()
    assert transport.slept and set(transport.slept) == {5.0}  # the default setting, every poll
    storage, transport = _client(fake, StorageManagementClient, ACME_SUB, RECONCILER_AZURE_POLLING_INTERVAL_S="0.5")
    storage.storage_accounts.begin_create("rg-poll", "sapolling02", body).result()
    assert set(transport.slept) == {0.5}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RECONCILER_AZURE_RETRIES", "many", "a number of seconds (or, for retries, a count)"),
        ("RECONCILER_AZURE_MAX_RETRY_AFTER_S", "-1", "must be at least 0"),
        ("RECONCILER_AZURE_POLLING_INTERVAL_S", "nan", "must be at least 0"),
    ],
)
def test_bad_retry_and_polling_settings_are_named(fake: FakeAzure, variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(f"{variable}={value!r}: {message}")):
        azure_settings(fake, **{variable: value})


def test_a_step_reads_its_object_once_and_the_topology_once_per_apply(azure: FakeAzure, tmp_path: Path) -> None:
    seed_vault(azure)
    specs = copy_specs(tmp_path)
    azure.calls.clear()
    apply(specs)
    # The clouds and VM networks of the VMM server are listed once for the whole apply, however many steps run
    # at the same time and need them.
    assert sum(1 for m, p in azure.calls if m == "GET" and p.endswith("/replicationProtectionContainers")) == 1
    assert sum(1 for m, p in azure.calls if m == "GET" and p.endswith("/replicationNetworks")) == 1

    edit_text(specs / "tenants" / "acmecorp.yaml", "sku: Standard_GRS}", "sku: Standard_LRS}")
    azure.calls.clear()
    apply(specs)
    account = [(m, p) for m, p in azure.calls if p.endswith("/storageAccounts/drstorageacct1")]
    # The step: one GET (the re-read its write uses), the PATCH, one GET (what the write did).
    assert [m for m, _p in account] == ["GET", "PATCH", "GET"], account


def test_a_missing_resource_provider_registration_is_made_and_waited_for(azure: FakeAzure, tmp_path: Path) -> None:
    """AcmeCorp's new subscription was never registered for Microsoft.Storage: ARM refuses the storage account
    with 409 MissingSubscriptionRegistration. Apply registers the namespace, waits, and creates the account."""
    seed_vault(azure)
    azure.extras.unregister(ACME_SUB, "Microsoft.Storage")
    specs = copy_specs(tmp_path)
    text = apply(specs)
    assert "register resource provider Microsoft.Storage on subscription" in text
    assert azure.extras.registered(ACME_SUB, "Microsoft.Storage")
    assert [p for m, p in azure.calls if m == "POST" and p.endswith("/register")] == [
        f"/subscriptions/{ACME_SUB}/providers/Microsoft.Storage/register"
    ]
    assert converged(specs)


def test_the_loop_converges_with_one_request_in_three_throttled(azure: FakeAzure, tmp_path: Path) -> None:
    seed_vault(azure)
    azure.extras.throttle_every = 3
    specs = copy_specs(tmp_path)
    first = run("plan", specs)
    assert first.exit_code == 0, out(first)
    apply(specs)
    assert converged(specs)
    assert azure.extras.throttled > 30  # it really was throttled all along


def test_what_reaches_the_engine_carries_the_capped_retry_after(fake: FakeAzure) -> None:
    """A request that used its retries and is still throttled: the engine's step retry waits the cap, not the
    service's hour."""
    seed_vault(fake)
    settings = azure_settings(fake, RECONCILER_AZURE_RETRIES="0", RECONCILER_AZURE_MAX_RETRY_AFTER_S="90")
    context = AzureContext(
        vaults={"contoso-west": VaultRef("contoso-west", PROVIDER_SUB, VAULT_RG, VAULT, "westus", "VMM01.contoso.int")}
    )
    fake.inject("GET", r"/replicationPolicies$", 429, "TooManyRequests", "Slow down.", retry_after=3600)
    policy = Resource(Address("asr.replication_policy", "contoso-west", "p"), {}, site="contoso-west")
    provider = AzureProvider(settings, context, credential_factory=lambda _t: fake.credential())
    with provider, pytest.raises(TemporaryError, match="TooManyRequests") as throttled:
        provider.read([policy])
    assert throttled.value.retry_after == 90
