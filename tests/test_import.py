"""``reconciler import``: the live estate written as specs, from a seed; then ``plan`` finds nothing to change.
Once per available backend: the embedded estate, and the Azure kinds on the local fake of ARM (tests/azure_fake.py)
with the rest embedded. Also: selective imports, comments on defaults, refusing to overwrite, a bad seed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reconciler.providers.embedded.store import EstateStore
from tests.azure_env import seed_vault as _seed_vault
from tests.azure_fake import FakeAzure
from tests.helpers import EMBEDDED_ENV, SPECS, applied_estate, isolate, out, run
from tests.import_seed import SEED


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    path = tmp_path / "seed.yaml"
    path.write_text(SEED, encoding="utf-8")
    return path


def _made_by_hand(estate: Path) -> None:
    """Every object as if an operator had made it: no ownership marker anywhere."""
    store = EstateStore(estate)
    try:
        for row in store.all():
            row.owned = False
            row.status = {k: v for k, v in row.status.items() if k != "marker"}
            store.put(row)
    finally:
        store.close()


def _import(seed: Path, out_dir: Path, *extra: str, estate: Path | None = None) -> str:
    where = ("--estate", str(estate)) if estate is not None else ()
    result = run("import", "--seed", seed, "--out", out_dir, *where, *extra)
    assert result.exit_code == 0, out(result)
    return out(result)


def _no_changes(specs: Path, *extra: str) -> None:
    result = run("plan", specs, "--detailed-exitcode", *extra)
    assert result.exit_code == 0, out(result)
    assert "No changes." in out(result)


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(tmp_path, monkeypatch, unset=EMBEDDED_ENV, estate="estate.db", audit_log="audit.jsonl")
    return applied_estate(tmp_path / "estate.db")


@pytest.mark.parametrize("by_hand", [True, False], ids=["made-by-hand", "managed-by-reconciler"])
def test_import_then_plan_finds_no_changes_embedded(estate: Path, seed: Path, tmp_path: Path, by_hand: bool) -> None:
    if by_hand:
        _made_by_hand(estate)
    imported = tmp_path / "imported"
    text = _import(seed, imported)
    assert "Imported 5 documents into 5 files" in text
    assert sorted(str(p.relative_to(imported)) for p in imported.rglob("*.yaml")) == [
        "profiles/memory.yaml",
        "profiles/power.yaml",
        "sites/contoso-west.yaml",
        "tenants/acmecorp.yaml",
        "tenants/fabrikam.yaml",
    ]
    _no_changes(imported)
    assert run("fmt", "--check", imported).exit_code == 0  # written in canonical form
    fabrikam = (imported / "tenants" / "fabrikam.yaml").read_text(encoding="utf-8")
    assert "sku: Standard_LRS\n" in fabrikam and "isolation: WindowsNetworkVirtualization  # default" in fabrikam
    assert "allowedVmSizes: [Standard_B2ms, Standard_D2s_v3]  # not in the estate" in fabrikam
    acme = yaml.safe_load((imported / "tenants" / "acmecorp.yaml").read_text(encoding="utf-8"))
    assert acme["spec"]["plan"]["allowedVmSizes"] == ["Standard_D2s_v3", "Standard_D4s_v3"]  # the seed's
    assert acme["spec"]["recovery"]["drill"] == {}  # its drill network, by its default name (docs/drills.md)
    fab_sql = next(vm for vm in yaml.safe_load(fabrikam)["spec"]["vms"] if vm["name"] == "FAB-SQL01")
    assert fab_sql["memoryProfile"] == "dynamic-1gib-512mib-4gib-b25-p60"  # two VMs share it: a profile
    assert ("lifecycle" in fab_sql) is not by_hand  # the marker's protect, when the tool manages it


def test_import_refuses_to_overwrite_and_is_selective(estate: Path, seed: Path, tmp_path: Path) -> None:
    imported = tmp_path / "imported"
    _import(seed, imported, "--site", "contoso-west", "--kind", "vmm", "--kind", "hyperv")
    site = yaml.safe_load((imported / "sites" / "contoso-west.yaml").read_text(encoding="utf-8"))
    assert "logicalNetworks" in site["spec"] and "uplinkPortProfiles" in site["spec"]
    acme = yaml.safe_load((imported / "tenants" / "acmecorp.yaml").read_text(encoding="utf-8"))
    assert "recovery" not in acme["spec"] and "protect" not in str(acme["spec"]["vms"][0].get("lifecycle", ""))
    assert sorted(p.name for p in (imported / "tenants").iterdir()) == ["acmecorp.yaml", "fabrikam.yaml"]
    again = run("import", "--seed", seed, "--out", imported, "--tenant", "acmecorp")
    assert again.exit_code == 1 and "exist already" in out(again) and "--force" in out(again)
    alone = tmp_path / "alone"
    refused = run("import", "--seed", seed, "--out", alone, "--tenant", "acmecorp")
    assert refused.exit_code == 1 and "site 'contoso-west' is not defined" in out(refused)  # written, reported
    _import(seed, imported, "--tenant", "acmecorp", "--force", "--kind", "vmm")
    acme = yaml.safe_load((imported / "tenants" / "acmecorp.yaml").read_text(encoding="utf-8"))
    assert "recovery" not in acme["spec"] and "vmNetworks" in acme["spec"]
    assert all("memory" not in vm and "memoryProfile" not in vm for vm in acme["spec"]["vms"])


def test_a_bad_seed_is_reported_with_its_position(estate: Path, tmp_path: Path) -> None:
    bad = tmp_path / "seed.yaml"
    bad.write_text(SEED.replace("recoveryVault:", "recoveryVaults:"), encoding="utf-8")
    result = run("import", "--seed", bad, "--out", tmp_path / "x")
    assert result.exit_code == 1
    assert "seed.yaml:8:7: error[schema.unknown-field]" in out(result) and "did you mean 'recoveryVault'" in out(result)
    assert not (tmp_path / "x").exists()


def test_import_then_plan_finds_no_changes_with_azure_on_the_fake(azure: FakeAzure, seed: Path, tmp_path: Path) -> None:
    _seed_vault(azure)
    applied = run("apply", SPECS, "--yes", "--allow-disruption")
    assert applied.exit_code == 0, out(applied)
    imported = tmp_path / "imported"
    text = _import(seed, imported)
    assert "Imported 5 documents" in text
    _no_changes(imported)
    acme = yaml.safe_load((imported / "tenants" / "acmecorp.yaml").read_text(encoding="utf-8"))
    recovery = acme["spec"]["recovery"]
    assert recovery["storageAccount"]["name"] == "drstorageacct1" and recovery["policy"]["name"] == "AcmeCorp-Policy"
    assert recovery["networkMappings"] == [
        {"vmNetwork": "YellowNetwork", "azureNetwork": "YellowNetwork", "azureSubnet": "Subnet1"}
    ]
