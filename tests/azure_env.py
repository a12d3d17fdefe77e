"""What the Azure provider's end-to-end tests share (a pytest plugin, see conftest.py): the fake ARM server
(``fake``), a working directory with the Azure kinds routed to it (``azure``), the provider's vault as it is
before the tool runs (``seed_vault``), and the CLI calls the tests make (apply must succeed, the plan's
changes by address)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.providers.azure.settings import AzureSettings
from tests.azure_fake import FakeAzure
from tests.helpers import EMBEDDED_ENV, init_estate, isolate, out, plan_json, run

PROVIDER_SUB = "00000000-0000-0000-0000-000000000001"
ACME_SUB = "22222222-2222-2222-2222-222222222222"
FABRIKAM_SUB = "44444444-4444-4444-4444-444444444444"
VAULT_RG, VAULT = "WAPRecoveryGroup", "WAPRecoveryVault"
CLOUDS = {"AcmeCorp Cloud": ["VM01", "VM02"], "Fabrikam Cloud": ["FAB-WEB01", "FAB-SQL01"]}
VAULT_ID = (
    f"/Subscriptions/{PROVIDER_SUB}/resourceGroups/{VAULT_RG}/providers/Microsoft.RecoveryServices/vaults/{VAULT}"
)


VM_NETWORKS = ["YellowNetwork", "BlueNetwork"]


@pytest.fixture
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeAzure]:
    with FakeAzure(tmp_path_factory.mktemp("azure")) as server:
        yield server


def seed_vault(fake: FakeAzure, tags: dict[str, str] | None = None) -> None:
    """The provider's vault as it is before the tool runs: made by hand, the VMM server registered to it, its
    clouds and VM networks synchronised."""
    fake.add_vault(
        PROVIDER_SUB,
        VAULT_RG,
        VAULT,
        "westus",
        vmm_server="VMM01.contoso.int",
        clouds=CLOUDS,
        vm_networks=VM_NETWORKS,
        tags=tags,
    )


def register_vmm01(fake: FakeAzure, **provider: str) -> None:
    """VMM01 registered with the provider's vault (made before without it): what DRConfigurator.exe leaves."""
    fake.register_vmm(
        PROVIDER_SUB,
        VAULT_RG,
        VAULT,
        vmm_server="VMM01.contoso.int",
        clouds=CLOUDS,
        vm_networks=VM_NETWORKS,
        **provider,
    )


def azure_settings(fake: FakeAzure, **env: str) -> AzureSettings:
    """The provider's settings for the fake (a custom cloud and its CA), with ``env`` on top."""
    settings = AzureSettings.from_env(
        {
            "RECONCILER_AZURE": "on",
            "RECONCILER_AZURE_CLOUD": "custom",
            "RECONCILER_AZURE_ARM_ENDPOINT": fake.base_url,
            "RECONCILER_AZURE_AUTHORITY": fake.base_url,
            "RECONCILER_AZURE_CA_BUNDLE": fake.ca_path,
            **env,
        }
    )
    assert settings is not None
    return settings


def environment(fake: FakeAzure) -> dict[str, str]:
    """The settings that route the Azure kinds to ``fake``: a custom cloud, its CA, client-secret sign-in."""
    return {
        "RECONCILER_AZURE": "on",
        "RECONCILER_AZURE_CLOUD": "custom",
        "RECONCILER_AZURE_ARM_ENDPOINT": fake.base_url,
        "RECONCILER_AZURE_AUTHORITY": fake.base_url,
        "RECONCILER_AZURE_CA_BUNDLE": fake.ca_path,
        "RECONCILER_AZURE_CREDENTIAL": "client-secret",
        "RECONCILER_AZURE_TENANT_ID": "99999999-9999-9999-9999-999999999999",
        "RECONCILER_AZURE_POLLING_INTERVAL_S": "0",
        "RECONCILER_AZURE_RETRY_BACKOFF_S": "0",
        "AZURE_CLIENT_ID": "reconciler-tests",
        "AZURE_CLIENT_SECRET": "fake-secret-for-the-local-token-endpoint",
    }


@pytest.fixture
def azure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeAzure) -> FakeAzure:
    """Run in tmp_path with the Azure kinds on the fake (a custom cloud, its CA, client-secret sign-in)."""
    isolate(tmp_path, monkeypatch, unset=EMBEDDED_ENV, estate="estate.db", audit_log="audit.jsonl")
    env = environment(fake)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    init_estate(tmp_path / "estate.db")
    return fake


def apply(specs: Path, *extra: str) -> str:
    """``apply`` with disruption allowed; it must succeed. Its output."""
    result = run("apply", specs, "--yes", "--allow-disruption", *extra)
    text = out(result)
    assert result.exit_code == 0, text
    return text


def changes(specs: Path, *extra: str) -> dict[str, str]:
    """Address -> action of every change the plan proposes."""
    return {
        c["address"]: c["action"]
        for c in plan_json(specs, Path("estate.db"), *extra)["changes"]
        if c["action"] != "noop"
    }


def converged(specs: Path) -> bool:
    """A plan with nothing to do."""
    result = run("plan", specs, "--detailed-exitcode")
    return result.exit_code == 0
