"""What the provider sends ASR, end to end against the fake ARM server (which validates the inputs as the service
does): enable protection built from the protectable item (its id on the host, its disks), managed disks by
default with the tenant's disk type, the older storage-account replication on request and the move off it,
a container mapping input with its instanceType, the failover subnet kept whichever shape the service answers
NICs in, and ASR's specific error codes instead of its generic BadRequest."""

from __future__ import annotations

from pathlib import Path

from tests.azure_env import apply, changes, converged, seed_vault
from tests.azure_fake import JSON, FakeAzure
from tests.helpers import copy_specs, edit_text, out, plan_json, run

ACME = Path("tenants") / "acmecorp.yaml"


def _enable_bodies(fake: FakeAzure) -> dict[str, JSON]:
    """The enable-protection inputs sent, by VM name."""
    out: dict[str, JSON] = {}
    for method, path, body in fake.bodies:
        if method == "PUT" and "/replicationProtectedItems/" in path:
            specific = body["properties"]["providerSpecificDetails"]
            out[specific["vmName"]] = specific
    return out


def _protectable(fake: FakeAzure, vm: str) -> JSON:
    return next(o for o in fake.objects("replicationProtectableItems") if o["properties"]["friendlyName"] == vm)


def _protected(fake: FakeAzure, vm: str) -> JSON:
    return next(o for o in fake.objects("replicationProtectedItems") if o["properties"]["friendlyName"] == vm)


def test_enable_protection_is_built_from_the_protectable_item(azure: FakeAzure, tmp_path: Path) -> None:
    seed_vault(azure)
    apply(copy_specs(tmp_path))
    sent = _enable_bodies(azure)
    web = sent["FAB-WEB01"]
    item = _protectable(azure, "FAB-WEB01")["properties"]["customDetails"]
    assert web["hvHostVmId"] == item["sourceItemId"]
    assert web["vhdId"] == item["diskDetails"][0]["vhdId"] and web["disksToInclude"] == [web["vhdId"]]
    # Managed disks by default (unmanaged VM disks are retired): the storage account is the cache.
    assert web["useManagedDisksForReplication"] == "true" and web["diskType"] == "StandardSSD_LRS"
    assert web["logStorageAccountId"].endswith("/storageAccounts/fabrikamdrstore01")
    assert "targetStorageAccountId" not in web and "useManagedDisks" not in web
    assert web["targetAzureSubnetId"] == "App"  # a subnet name, as Azure PowerShell sends it
    assert sent["VM01"]["diskType"] == "Standard_LRS"  # AcmeCorp names none: the default
    mappings = [b for m, p, b in azure.bodies if m == "PUT" and "/replicationProtectionContainerMappings/" in p]
    assert {b["properties"]["providerSpecificInput"]["instanceType"] for b in mappings} == {
        "ReplicationProviderSpecificContainerMappingInput"
    }
    assert _protected(azure, "FAB-WEB01")["properties"]["providerSpecificDetails"]["protectedManagedDisks"]


def test_a_vm_whose_item_lists_no_disks_is_enabled_without_a_vhd_id(azure: FakeAzure, tmp_path: Path) -> None:
    """VMM has not reported VM01's disks yet: ASR picks the OS disk itself; a null vhdId would be refused."""
    seed_vault(azure)
    item = _protectable(azure, "VM01")
    item["properties"]["customDetails"]["diskDetails"] = []
    azure.put_raw(item["id"], item)
    specs = copy_specs(tmp_path)
    apply(specs)
    assert "vhdId" not in _enable_bodies(azure)["VM01"]
    assert converged(specs)


def test_an_unmarked_os_disk_is_asked_for_then_taken_from_the_spec(azure: FakeAzure, tmp_path: Path) -> None:
    seed_vault(azure)
    item = _protectable(azure, "VM01")
    disks = item["properties"]["customDetails"]["diskDetails"]
    disks[0]["vhdType"] = "Data"
    disks.append({"vhdId": "d2-data", "vhdName": "VM01_data", "maxSizeMB": 1024, "vhdType": "Data"})
    azure.put_raw(item["id"], item)
    specs = copy_specs(tmp_path)
    failed = run("apply", specs, "--yes", "--allow-disruption")
    assert failed.exit_code == 1
    assert "VM 'VM01' has 2 disks (VM01_disk0, VM01_data) and VMM marks none as the OS disk" in out(failed)
    edit_text(
        specs / ACME,
        "    - name: VM01\n      protect: true\n",
        "    - name: VM01\n      protect: true\n      osDisk: VM01_disk0\n",
    )
    apply(specs)
    sent = _enable_bodies(azure)["VM01"]
    assert sent["vhdId"] == disks[0]["vhdId"] and sent["disksToInclude"] == [disks[0]["vhdId"], "d2-data"]
    assert converged(specs)


def _to_storage_account(specs: Path) -> None:
    edit_text(
        specs / ACME,
        "    defaultTargetVmSize: Standard_D2s_v3\n",
        "    defaultTargetVmSize: Standard_D2s_v3\n    replicateTo: StorageAccount\n",
    )


def test_storage_account_replication_is_reported_and_can_be_moved(azure: FakeAzure, tmp_path: Path) -> None:
    seed_vault(azure)
    specs = copy_specs(tmp_path)
    _to_storage_account(specs)
    apply(specs)
    legacy = _enable_bodies(azure)["VM01"]
    assert legacy["targetStorageAccountId"].endswith("/storageAccounts/drstorageacct1")
    assert legacy["useManagedDisks"] == "true"  # fail over to managed disks: unmanaged VM disks are retired
    assert "useManagedDisksForReplication" not in legacy
    assert converged(specs)

    edit_text(specs / ACME, "    replicateTo: StorageAccount\n", "")  # back to the default: managed disks
    drift = run("drift", specs)
    assert drift.exit_code == 2 and "replicateTo: expected ManagedDisks, actual StorageAccount" in out(drift)
    document = plan_json(specs, Path("estate.db"))
    move = next(c for c in document["changes"] if c["address"] == "asr.protected_item:acmecorp/VM01")
    assert move["action"] == "replace" and "initial replication" in move["disruptive"]
    azure.bodies.clear()
    apply(specs)
    assert _enable_bodies(azure)["VM01"]["useManagedDisksForReplication"] == "true"
    assert converged(specs)


def _with_target_size(specs: Path, size: str) -> None:
    edit_text(specs / ACME, "defaultTargetVmSize: Standard_D2s_v3", f"defaultTargetVmSize: {size}")


def test_the_failover_subnet_survives_an_update_in_the_older_nic_shape(azure: FakeAzure, tmp_path: Path) -> None:
    """A service answering NICs with recoveryVMSubnetName and no ipConfigs: an update sends the subnet on the NIC
    (an ipConfigs-only input would drop it, and every later plan would show targetSubnet: null -> Subnet1)."""
    seed_vault(azure)
    azure.nic_shape = "legacy"
    specs = copy_specs(tmp_path)
    apply(specs)
    nic = _protected(azure, "VM01")["properties"]["providerSpecificDetails"]["vmNics"][0]
    assert nic["recoveryVMSubnetName"] == "Subnet1" and "ipConfigs" not in nic

    _with_target_size(specs, "Standard_D4s_v3")
    assert changes(specs) == {"asr.protected_item:acmecorp/VM01": "update"}
    apply(specs)
    assert converged(specs)
    nic = _protected(azure, "VM01")["properties"]["providerSpecificDetails"]["vmNics"][0]
    assert nic["recoveryVMSubnetName"] == "Subnet1"

    # Someone clears the subnet in the portal: drift, and apply puts it back.
    item = _protected(azure, "VM01")
    item["properties"]["providerSpecificDetails"]["vmNics"][0]["recoveryVMSubnetName"] = None
    azure.put_raw(item["id"], item)
    document = plan_json(specs, Path("estate.db"))
    drifted = next(c for c in document["changes"] if c["address"] == "asr.protected_item:acmecorp/VM01")
    assert [(f["path"], f["old"], f["new"]) for f in drifted["fields"]] == [("targetSubnet", None, "Subnet1")]
    apply(specs)
    assert converged(specs)


def test_asr_refusals_show_their_specific_code_and_action(azure: FakeAzure, tmp_path: Path) -> None:
    seed_vault(azure)
    azure.inject("PUT", r"/replicationPolicies/AcmeCorp-Policy$", 400, "150261", "Replication policy creation failed.")
    result = run("apply", copy_specs(tmp_path), "--yes", "--allow-disruption")
    text = out(result)
    assert result.exit_code == 1, text
    assert "400 150261: Replication policy creation failed. (recommended: Fix the request and retry" in text
    assert "BadRequest" not in text
