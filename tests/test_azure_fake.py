"""The Azure fake (tests/azure_fake.py) driven by the REAL Azure SDK clients: every endpoint and flow the reconciler
relies on (paging, the whole ASR sequence, long-running operations, error injection, Azure AD client credentials)."""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network import models as net
from azure.mgmt.recoveryservices import RecoveryServicesClient
from azure.mgmt.recoveryservices import models as rs
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.recoveryservicessiterecovery import models as asr
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.resources import models as res
from azure.mgmt.storage import StorageManagementClient
from azure.mgmt.storage import models as st

from tests.azure_fake import FakeAzure

PROVIDER_SUB = "5a1c0d3e-0000-4000-8000-00000000a5a5"
TENANT_SUB = "7b2d1e4f-0000-4000-8000-00000000b7b7"
RG = "rg-asr"
VAULT = "vault-asr"
VMM = "vmm01.provider.local"
CLOUDS = {"Tenant1Cloud": ["t1-vm1", "t1-vm2", "t1-vm3"], "Tenant2Cloud": ["t2-web1"]}
VM_NETWORKS = ["Tenant1Net", "Tenant2Net", "Tenant3Net"]


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeAzure]:
    with FakeAzure(tmp_path_factory.mktemp("azure")) as server:
        server.add_vault(PROVIDER_SUB, RG, VAULT, "West Europe", vmm_server=VMM, clouds=CLOUDS, vm_networks=VM_NETWORKS)
        yield server


def _options(fake: FakeAzure, **extra: Any) -> dict[str, Any]:
    return {
        "base_url": fake.base_url,
        "credential_scopes": [fake.base_url + "/.default"],
        "connection_verify": fake.ca_path,
        "polling_interval": 0,
        **extra,
    }


@pytest.fixture(scope="module")
def site_recovery(fake: FakeAzure) -> SiteRecoveryManagementClient:
    return SiteRecoveryManagementClient(fake.credential(), PROVIDER_SUB, **_options(fake))


@pytest.fixture(scope="module")
def vaults(fake: FakeAzure) -> RecoveryServicesClient:
    return RecoveryServicesClient(fake.credential(), PROVIDER_SUB, **_options(fake))


@pytest.fixture(scope="module")
def resources(fake: FakeAzure) -> ResourceManagementClient:
    return ResourceManagementClient(fake.credential(), TENANT_SUB, **_options(fake))


@pytest.fixture(scope="module")
def storage(fake: FakeAzure) -> StorageManagementClient:
    return StorageManagementClient(fake.credential(), TENANT_SUB, **_options(fake))


@pytest.fixture(scope="module")
def network(fake: FakeAzure) -> NetworkManagementClient:
    return NetworkManagementClient(fake.credential(), TENANT_SUB, **_options(fake))


def _calls_since(fake: FakeAzure, start: int, method: str, path_suffix: str) -> int:
    return sum(1 for m, p in fake.calls[start:] if m == method and p.lower().endswith(path_suffix.lower()))


def _asr_code(error: HttpResponseError) -> str:
    """The specific code of an ASR refusal: ASR answers 400 BadRequest and names the reason in the details."""
    assert error.error is not None and error.error.code == "BadRequest", error
    assert error.error.details, error
    return str(error.error.details[0].code)


def _fabric_and_container(client: SiteRecoveryManagementClient, cloud: str) -> tuple[str, str]:
    fabric = next(iter(client.replication_fabrics.list(RG, VAULT)))
    assert fabric.name is not None
    for container in client.replication_protection_containers.list_by_replication_fabrics(RG, VAULT, fabric.name):
        assert container.properties is not None and container.name is not None
        if container.properties.friendly_name == cloud:
            return fabric.name, container.name
    raise AssertionError(f"no container for {cloud}")


def _network_name(client: SiteRecoveryManagementClient, fabric: str, vm_network: str) -> str:
    for item in client.replication_networks.list_by_replication_fabrics(RG, VAULT, fabric):
        assert item.properties is not None and item.name is not None
        if item.properties.friendly_name == vm_network:
            return item.name
    raise AssertionError(f"no replication network {vm_network}")


def _tenant_side(
    resources: ResourceManagementClient, storage: StorageManagementClient, network: NetworkManagementClient, tenant: str
) -> tuple[str, str, str]:
    """A tenant's resource group, storage account and virtual network (ids)."""
    group = resources.resource_groups.create_or_update(f"rg-{tenant}", res.ResourceGroup(location="westeurope"))
    account = storage.storage_accounts.begin_create(
        f"rg-{tenant}",
        f"sa{tenant}asr",
        st.StorageAccountCreateParameters(sku=st.Sku(name="Standard_LRS"), kind="StorageV2", location="West Europe"),
    ).result()
    vnet = network.virtual_networks.begin_create_or_update(
        f"rg-{tenant}",
        f"vnet-{tenant}",
        net.VirtualNetwork(
            location="westeurope",
            properties=net.VirtualNetworkPropertiesFormat(
                address_space=net.AddressSpace(address_prefixes=["10.10.0.0/16"]),
                subnets=[
                    net.Subnet(name="default", properties=net.SubnetPropertiesFormat(address_prefix="10.10.0.0/24")),
                    net.Subnet(name="backend", properties=net.SubnetPropertiesFormat(address_prefix="10.10.1.0/24")),
                ],
            ),
        ),
    ).result()
    assert group.id and account.id and vnet.id
    return group.id, account.id, vnet.id


def _policy_input(storage_account_id: str) -> asr.CreatePolicyInput:
    return asr.CreatePolicyInput(
        properties=asr.CreatePolicyInputProperties(
            provider_specific_input=asr.HyperVReplicaAzurePolicyInput(
                recovery_point_history_duration=24,
                application_consistent_snapshot_frequency_in_hours=4,
                replication_interval=300,
                storage_accounts=[storage_account_id],
            )
        )
    )


# ---------------------------------------------------------------------------------------------------- reads


def test_list_paging_returns_every_object(
    fake: FakeAzure, site_recovery: SiteRecoveryManagementClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake, "page_size", 2)
    fabric, container = _fabric_and_container(site_recovery, "Tenant1Cloud")
    start = len(fake.calls)
    items = list(
        site_recovery.replication_protectable_items.list_by_replication_protection_containers(
            RG, VAULT, fabric, container
        )
    )
    assert sorted(str(i.properties.friendly_name) for i in items if i.properties) == CLOUDS["Tenant1Cloud"]
    assert _calls_since(fake, start, "GET", "/replicationProtectableItems") == 2  # 3 items, pages of 2
    item = items[0]
    assert item.properties is not None
    assert item.properties.protection_status == "Unprotected"
    details = item.properties.custom_details
    assert isinstance(details, asr.HyperVVirtualMachineDetails)
    assert details.os_details is not None and details.os_details.os_type == "Windows"
    assert details.disk_details and details.disk_details[0].vhd_type == "OperatingSystem"

    networks = list(site_recovery.replication_networks.list(RG, VAULT))
    assert sorted(str(n.properties.friendly_name) for n in networks if n.properties) == VM_NETWORKS
    fabrics = list(site_recovery.replication_fabrics.list(RG, VAULT))
    assert len(fabrics) == 1 and fabrics[0].properties is not None
    assert fabrics[0].properties.friendly_name == VMM
    assert isinstance(fabrics[0].properties.custom_details, asr.VmmDetails)
    assert fabrics[0].id is not None and fabrics[0].id.startswith("/Subscriptions/")
    containers = list(site_recovery.replication_protection_containers.list(RG, VAULT))
    assert sorted(str(c.properties.friendly_name) for c in containers if c.properties) == sorted(CLOUDS)


def test_ids_are_case_insensitive(fake: FakeAzure, site_recovery: SiteRecoveryManagementClient) -> None:
    fabric, container = _fabric_and_container(site_recovery, "Tenant2Cloud")
    found = site_recovery.replication_protection_containers.get(RG.upper(), VAULT.upper(), fabric.upper(), container)
    assert found.properties is not None and found.properties.friendly_name == "Tenant2Cloud"
    assert found.id is not None
    assert fake.get_raw(found.id.upper()) == fake.get_raw(found.id.lower()) is not None


def test_missing_vault_and_resource_group_are_404(site_recovery: SiteRecoveryManagementClient) -> None:
    with pytest.raises(ResourceNotFoundError) as missing_vault:
        list(site_recovery.replication_fabrics.list(RG, "no-such-vault"))
    assert missing_vault.value.error is not None and missing_vault.value.error.code == "ResourceNotFound"
    assert "The Resource 'Microsoft.RecoveryServices/vaults/no-such-vault' under resource group 'rg-asr'" in str(
        missing_vault.value
    )
    with pytest.raises(ResourceNotFoundError) as missing_group:
        site_recovery.replication_policies.get("no-such-rg", VAULT, "p")
    assert missing_group.value.error is not None and missing_group.value.error.code == "ResourceGroupNotFound"
    with pytest.raises(ResourceNotFoundError):
        site_recovery.replication_policies.get(RG, VAULT, "no-such-policy")


def test_request_without_token_is_401(fake: FakeAzure) -> None:
    context = ssl.create_default_context(cafile=fake.ca_path)
    url = f"{fake.base_url}/subscriptions/{PROVIDER_SUB}/resourcegroups?api-version=2025-04-01"
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(url, context=context, timeout=10)
    assert answer.value.code == 401
    assert answer.value.headers["x-ms-request-id"]
    assert json.loads(answer.value.read())["error"]["code"] == "AuthenticationFailed"


def test_client_secret_credential_against_the_fake_authority(fake: FakeAzure) -> None:
    tenant = "3f0c2a7e-1111-4222-8333-944455556666"
    credential = ClientSecretCredential(
        tenant,
        "client",
        "not-a-secret",
        authority=fake.base_url,
        disable_instance_discovery=True,
        connection_verify=fake.ca_path,
    )
    client = ResourceManagementClient(credential, PROVIDER_SUB, **_options(fake))
    assert client.resource_groups.get(RG).location == "westeurope"
    assert client.resource_groups.check_existence(RG) is True
    assert client.resource_groups.check_existence("no-such-rg") is False
    assert tenant in fake.token_tenants


def test_concurrent_requests(fake: FakeAzure, site_recovery: SiteRecoveryManagementClient) -> None:
    def read(_: int) -> int:
        return len(list(site_recovery.replication_protection_containers.list(RG, VAULT)))

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(read, range(16))) == {len(CLOUDS)}
    assert threading.active_count() < 100


# ---------------------------------------------------------------------------------------------------- tenant side


def test_storage_account_create_polls_location(
    fake: FakeAzure,
    resources: ResourceManagementClient,
    storage: StorageManagementClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fake, "job_polls", 2)
    resources.resource_groups.create_or_update("rg-storage", res.ResourceGroup(location="westeurope"))
    start = len(fake.calls)
    account = storage.storage_accounts.begin_create(
        "rg-storage",
        "sastoragetest",
        st.StorageAccountCreateParameters(
            sku=st.Sku(name="Standard_LRS"), kind="StorageV2", location="West Europe", tags={"owner": "tenant1"}
        ),
    ).result()
    assert account.location == "westeurope"
    assert account.properties is not None and account.properties.provisioning_state == "Succeeded"
    assert account.sku is not None and account.sku.tier == "Standard"
    assert _calls_since(fake, start, "GET", "") == 3  # two 202 polls, then 200 with the account
    polls = [p for m, p in fake.calls[start:] if m == "GET"]
    assert len(set(polls)) == 1  # the Location URL, polled until 200
    assert re.search(r"/providers/Microsoft\.Storage/locations/westeurope/asyncoperations/[-0-9a-f]+$", polls[0])

    updated = storage.storage_accounts.update(
        "rg-storage", "sastoragetest", st.StorageAccountUpdateParameters(sku=st.Sku(name="Standard_GRS"), tags={})
    )
    assert updated.sku is not None and updated.sku.name == "Standard_GRS" and updated.tags == {}

    # an untagged account a human made, stored as-is
    human_id = (
        f"/subscriptions/{TENANT_SUB}/resourceGroups/rg-storage/providers/Microsoft.Storage/storageAccounts/sahuman"
    )
    fake.put_raw(
        human_id,
        {
            "id": human_id,
            "name": "sahuman",
            "type": "Microsoft.Storage/storageAccounts",
            "location": "westeurope",
            "kind": "StorageV2",
            "sku": {"name": "Standard_LRS", "tier": "Standard"},
            "properties": {"provisioningState": "Succeeded"},
        },
    )
    names = sorted(a.name or "" for a in storage.storage_accounts.list_by_resource_group("rg-storage"))
    assert names == ["sahuman", "sastoragetest"]
    assert "sastoragetest" in {a.name for a in storage.storage_accounts.list()}
    assert storage.storage_accounts.get_properties("rg-storage", "sahuman").tags is None

    storage.storage_accounts.delete("rg-storage", "sahuman")
    assert fake.get_raw(human_id) is None
    with pytest.raises(ResourceNotFoundError):
        storage.storage_accounts.get_properties("rg-storage", "sahuman")


def test_virtual_network_create_polls_azure_async_operation(
    fake: FakeAzure,
    resources: ResourceManagementClient,
    network: NetworkManagementClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fake, "job_polls", 2)
    resources.resource_groups.create_or_update("rg-network", res.ResourceGroup(location="westeurope"))
    start = len(fake.calls)
    poller = network.virtual_networks.begin_create_or_update(
        "rg-network",
        "vnet-test",
        net.VirtualNetwork(
            location="West Europe",
            tags={"tenant": "t1"},
            properties=net.VirtualNetworkPropertiesFormat(
                address_space=net.AddressSpace(address_prefixes=["10.1.0.0/16"]),
                subnets=[
                    net.Subnet(name="default", properties=net.SubnetPropertiesFormat(address_prefix="10.1.0.0/24"))
                ],
            ),
        ),
    )
    vnet = poller.result()
    assert vnet.properties is not None and vnet.properties.provisioning_state == "Succeeded"
    assert vnet.properties.subnets and vnet.properties.subnets[0].id is not None
    assert vnet.properties.subnets[0].id.endswith("/virtualNetworks/vnet-test/subnets/default")
    status_polls = [p for m, p in fake.calls[start:] if m == "GET" and "/providers/Microsoft.Network/locations/" in p]
    assert len(status_polls) == 3  # InProgress twice, then Succeeded
    assert fake.calls[-1] == ("GET", vnet.id)  # final GET of the resource

    assert [v.name for v in network.virtual_networks.list("rg-network")] == ["vnet-test"]
    network.virtual_networks.begin_delete("rg-network", "vnet-test").result()
    with pytest.raises(ResourceNotFoundError):
        network.virtual_networks.get("rg-network", "vnet-test")


def test_resource_group_delete_removes_its_resources(
    fake: FakeAzure, resources: ResourceManagementClient, storage: StorageManagementClient
) -> None:
    group = resources.resource_groups.create_or_update("rg-doomed", res.ResourceGroup(location="northeurope"))
    assert group.properties is not None and group.properties.provisioning_state == "Succeeded"
    storage.storage_accounts.begin_create(
        "rg-doomed",
        "sadoomed",
        st.StorageAccountCreateParameters(sku=st.Sku(name="Standard_LRS"), kind="StorageV2", location="northeurope"),
    ).result()
    resources.resource_groups.begin_delete("rg-doomed").result()
    assert resources.resource_groups.check_existence("rg-doomed") is False
    with pytest.raises(ResourceNotFoundError) as missing:
        storage.storage_accounts.get_properties("rg-doomed", "sadoomed")
    assert missing.value.error is not None and missing.value.error.code == "ResourceGroupNotFound"


def test_vault_sku_reads_back_as_rs0(fake: FakeAzure, vaults: RecoveryServicesClient) -> None:
    created = vaults.vaults.begin_create_or_update(
        RG,
        "vault-new",
        rs.Vault(location="westeurope", sku=rs.Sku(name="Standard"), properties=rs.VaultProperties()),
    ).result()
    assert created.sku is not None and (created.sku.name, created.sku.tier) == ("RS0", "Standard")
    assert created.properties is not None and created.properties.provisioning_state == "Succeeded"
    assert created.id is not None and "/resourcegroups/" in created.id  # ARM's own casing: normalize ids
    updated = vaults.vaults.begin_update(RG, "vault-new", rs.PatchVault(tags={"env": "test"})).result()
    assert updated.tags == {"env": "test"}
    assert {v.name for v in vaults.vaults.list_by_resource_group(RG)} == {VAULT, "vault-new"}
    seeded = vaults.vaults.get(RG, VAULT)
    assert seeded.sku is not None and seeded.sku.name == "RS0"
    vaults.vaults.begin_delete(RG, "vault-new").result()
    with pytest.raises(ResourceNotFoundError):
        vaults.vaults.get(RG, "vault-new")


# ---------------------------------------------------------------------------------------------------- ASR


def test_whole_asr_sequence(
    fake: FakeAzure,
    site_recovery: SiteRecoveryManagementClient,
    resources: ResourceManagementClient,
    storage: StorageManagementClient,
    network: NetworkManagementClient,
) -> None:
    group_id, account_id, vnet_id = _tenant_side(resources, storage, network, "tenant1")
    fabric, container = _fabric_and_container(site_recovery, "Tenant1Cloud")
    vm_network = _network_name(site_recovery, fabric, "Tenant1Net")

    # policy
    policy = site_recovery.replication_policies.begin_create(
        RG, VAULT, "tenant1-policy", _policy_input(account_id)
    ).result()
    assert policy.properties is not None and policy.properties.friendly_name == "tenant1-policy"
    details = policy.properties.provider_specific_details
    assert isinstance(details, asr.HyperVReplicaAzurePolicyDetails)
    assert details.recovery_point_history_duration_in_hours == 24
    assert details.replication_interval == 300
    assert details.active_storage_account_id == account_id.lower()
    updated_policy = site_recovery.replication_policies.begin_update(
        RG,
        VAULT,
        "tenant1-policy",
        asr.UpdatePolicyInput(
            properties=asr.UpdatePolicyInputProperties(
                replication_provider_settings=asr.HyperVReplicaAzurePolicyInput(
                    application_consistent_snapshot_frequency_in_hours=2, storage_accounts=[account_id]
                )
            )
        ),
    ).result()
    assert updated_policy.properties is not None
    assert isinstance(updated_policy.properties.provider_specific_details, asr.HyperVReplicaAzurePolicyDetails)
    assert updated_policy.properties.provider_specific_details.application_consistent_snapshot_frequency_in_hours == 2
    assert updated_policy.properties.provider_specific_details.recovery_point_history_duration_in_hours == 24
    assert policy.id is not None

    protectable = next(
        i
        for i in site_recovery.replication_protectable_items.list_by_replication_protection_containers(
            RG, VAULT, fabric, container
        )
        if i.properties is not None and i.properties.friendly_name == "t1-vm1"
    )
    assert protectable.id is not None and protectable.name is not None
    assert isinstance(protectable.properties.custom_details, asr.HyperVVirtualMachineDetails)  # type: ignore[union-attr]
    vhd_id = protectable.properties.custom_details.disk_details[0].vhd_id  # type: ignore[union-attr,index]
    enable = asr.EnableProtectionInput(
        properties=asr.EnableProtectionInputProperties(
            policy_id=policy.id,
            protectable_item_id=protectable.id,
            provider_specific_details=asr.HyperVReplicaAzureEnableProtectionInput(
                hv_host_vm_id=protectable.properties.custom_details.source_item_id,  # type: ignore[union-attr]
                vm_name="t1-vm1",
                os_type="Windows",
                vhd_id=vhd_id,
                target_azure_vm_name="t1-vm1-dr",
                target_azure_network_id=vnet_id,
                target_azure_subnet_id="default",
                target_azure_v2_resource_group_id=group_id,
                target_storage_account_id=account_id,
                use_managed_disks="false",
                disk_type="Standard_LRS",
                target_vm_size="Standard_D2s_v3",
                license_type="NoLicenseType",
            ),
        )
    )

    # enabling protection before the cloud is associated with the policy is refused
    with pytest.raises(HttpResponseError) as not_mapped:
        site_recovery.replication_protected_items.begin_create(RG, VAULT, fabric, container, protectable.name, enable)
    assert not_mapped.value.status_code == 400
    assert _asr_code(not_mapped.value) == "ProtectionContainerNotMappedToPolicy"

    # container mapping (policy <-> cloud)
    mapping = site_recovery.replication_protection_container_mappings.begin_create(
        RG,
        VAULT,
        fabric,
        container,
        "tenant1-mapping",
        asr.CreateProtectionContainerMappingInput(
            properties=asr.CreateProtectionContainerMappingInputProperties(
                target_protection_container_id="Microsoft Azure", policy_id=policy.id
            )
        ),
    ).result()
    assert mapping.properties is not None
    assert (mapping.properties.state, mapping.properties.policy_friendly_name) == ("Paired", "tenant1-policy")
    assert mapping.properties.source_protection_container_friendly_name == "Tenant1Cloud"
    assert mapping.properties.source_fabric_friendly_name == VMM
    with pytest.raises(HttpResponseError) as in_use:
        site_recovery.replication_policies.begin_delete(RG, VAULT, "tenant1-policy")
    assert _asr_code(in_use.value) == "PolicyInUse"

    # network mapping (VM network -> Azure virtual network)
    network_mapping = site_recovery.replication_network_mappings.begin_create(
        RG,
        VAULT,
        fabric,
        vm_network,
        "tenant1-net",
        asr.CreateNetworkMappingInput(
            properties=asr.CreateNetworkMappingInputProperties(
                recovery_fabric_name="Microsoft Azure",
                recovery_network_id=vnet_id,
                fabric_specific_details=asr.VmmToAzureCreateNetworkMappingInput(),
            )
        ),
    ).result()
    assert network_mapping.properties is not None
    assert network_mapping.properties.primary_network_friendly_name == "Tenant1Net"
    assert network_mapping.properties.recovery_network_friendly_name == "vnet-tenant1"
    assert isinstance(network_mapping.properties.fabric_specific_settings, asr.VmmToAzureNetworkMappingSettings)
    remapped = site_recovery.replication_network_mappings.begin_update(
        RG,
        VAULT,
        fabric,
        vm_network,
        "tenant1-net",
        asr.UpdateNetworkMappingInput(
            properties=asr.UpdateNetworkMappingInputProperties(
                recovery_fabric_name="Microsoft Azure",
                recovery_network_id=vnet_id,
                fabric_specific_details=asr.VmmToAzureUpdateNetworkMappingInput(),
            )
        ),
    ).result()
    assert remapped.properties is not None and remapped.properties.state == "Paired"
    assert [m.name for m in site_recovery.replication_network_mappings.list(RG, VAULT)] == ["tenant1-net"]

    # enable protection
    item = site_recovery.replication_protected_items.begin_create(
        RG, VAULT, fabric, container, protectable.name, enable
    ).result()
    assert item.properties is not None
    assert (item.properties.protection_state, item.properties.friendly_name) == ("Protected", "t1-vm1")
    assert item.properties.primary_protection_container_friendly_name == "Tenant1Cloud"
    replication = item.properties.provider_specific_details
    assert isinstance(replication, asr.HyperVReplicaAzureReplicationDetails)
    assert replication.recovery_azure_vm_name == "t1-vm1-dr"
    assert replication.recovery_azure_vm_size == "Standard_D2s_v3"
    assert replication.recovery_azure_storage_account == account_id
    assert replication.recovery_azure_resource_group_id == group_id
    assert replication.selected_recovery_azure_network_id == vnet_id
    assert replication.use_managed_disks == "false"
    assert replication.o_s_details is not None and replication.o_s_details.os_type == "Windows"
    assert replication.vm_nics is not None and replication.vm_nics[0].v_m_network_name == "Tenant1Net"
    assert replication.vm_nics[0].ip_configs is not None
    assert replication.vm_nics[0].ip_configs[0].recovery_subnet_name == "default"
    refreshed = site_recovery.replication_protectable_items.get(RG, VAULT, fabric, container, protectable.name)
    assert refreshed.properties is not None and refreshed.properties.protection_status == "Protected"
    with pytest.raises(HttpResponseError) as twice:
        site_recovery.replication_protected_items.begin_create(RG, VAULT, fabric, container, "again", enable)
    assert _asr_code(twice.value) == "ItemAlreadyProtected"
    with pytest.raises(HttpResponseError) as mapping_in_use:
        site_recovery.replication_protection_container_mappings.begin_delete(
            RG,
            VAULT,
            fabric,
            container,
            "tenant1-mapping",
            asr.RemoveProtectionContainerMappingInput(properties=asr.RemoveProtectionContainerMappingInputProperties()),
        )
    assert _asr_code(mapping_in_use.value) == "ProtectionContainerMappingInUse"

    # update the protected item
    nic_id = replication.vm_nics[0].nic_id
    updated = site_recovery.replication_protected_items.begin_update(
        RG,
        VAULT,
        fabric,
        container,
        protectable.name,
        asr.UpdateReplicationProtectedItemInput(
            properties=asr.UpdateReplicationProtectedItemInputProperties(
                recovery_azure_vm_name="t1-vm1-renamed",
                recovery_azure_vm_size="Standard_D4s_v3",
                selected_recovery_azure_network_id=vnet_id,
                vm_nics=[
                    asr.VMNicInputDetails(
                        nic_id=nic_id,
                        selection_type="SelectedByUser",
                        ip_configs=[
                            asr.IPConfigInputDetails(ip_config_name="ipconfig1", recovery_subnet_name="backend")
                        ],
                    )
                ],
                license_type="WindowsServer",
                provider_specific_details=asr.HyperVReplicaAzureUpdateReplicationProtectedItemInput(
                    recovery_azure_v2_resource_group_id=group_id, use_managed_disks="true"
                ),
            )
        ),
    ).result()
    assert updated.properties is not None
    replication = updated.properties.provider_specific_details
    assert isinstance(replication, asr.HyperVReplicaAzureReplicationDetails)
    assert (replication.recovery_azure_vm_name, replication.recovery_azure_vm_size) == (
        "t1-vm1-renamed",
        "Standard_D4s_v3",
    )
    assert (replication.license_type, replication.use_managed_disks) == ("WindowsServer", "true")
    assert replication.vm_nics and replication.vm_nics[0].ip_configs
    assert replication.vm_nics[0].ip_configs[0].recovery_subnet_name == "backend"
    assert protectable.name in {i.name for i in site_recovery.replication_protected_items.list(RG, VAULT)}

    # disable protection, dissociate, delete
    start = len(fake.calls)
    gone = site_recovery.replication_protected_items.begin_delete(
        RG,
        VAULT,
        fabric,
        container,
        protectable.name,
        asr.DisableProtectionInput(
            properties=asr.DisableProtectionInputProperties(disable_protection_reason="NotSpecified")
        ),
    ).result()
    assert gone is None
    # POST remove: the status URL is polled, then (POST + Location header) GET once more via Location
    disable_calls = fake.calls[start:]
    assert disable_calls[0][0] == "POST" and disable_calls[0][1].endswith("/remove")
    assert {p for m, p in disable_calls[1:]} == {disable_calls[-1][1]}
    assert "/replicationJobs/" in disable_calls[-1][1] and "/operationresults/" in disable_calls[-1][1]
    with pytest.raises(ResourceNotFoundError):
        site_recovery.replication_protected_items.get(RG, VAULT, fabric, container, protectable.name)
    refreshed = site_recovery.replication_protectable_items.get(RG, VAULT, fabric, container, protectable.name)
    assert refreshed.properties is not None and refreshed.properties.protection_status == "Unprotected"
    site_recovery.replication_protection_container_mappings.begin_delete(
        RG,
        VAULT,
        fabric,
        container,
        "tenant1-mapping",
        asr.RemoveProtectionContainerMappingInput(properties=asr.RemoveProtectionContainerMappingInputProperties()),
    ).result()
    assert "tenant1-mapping" not in {
        m.name for m in site_recovery.replication_protection_container_mappings.list(RG, VAULT)
    }
    site_recovery.replication_network_mappings.begin_delete(RG, VAULT, fabric, vm_network, "tenant1-net").result()
    site_recovery.replication_policies.begin_delete(RG, VAULT, "tenant1-policy").result()
    with pytest.raises(ResourceNotFoundError):
        site_recovery.replication_policies.get(RG, VAULT, "tenant1-policy")

    tenant1_targets = {"tenant1-policy", "Tenant1Cloud", "tenant1-net", "t1-vm1"}
    jobs = [
        j.properties
        for j in site_recovery.replication_jobs.list(RG, VAULT)
        if j.properties is not None and j.properties.target_object_name in tenant1_targets
    ]
    scenarios = [j.scenario_name for j in jobs]
    for scenario in (
        "AddProtectionPolicy",
        "PairCloud",
        "NetworkMapping",
        "EnableDr",
        "UpdateVmProperties",
        "DisableDr",
    ):
        assert scenario in scenarios
    assert all(j.state == "Succeeded" for j in jobs)


def test_asr_write_goes_through_an_asr_job(
    fake: FakeAzure,
    site_recovery: SiteRecoveryManagementClient,
    resources: ResourceManagementClient,
    storage: StorageManagementClient,
    network: NetworkManagementClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without polling, a write answers 202 with the job; the job (followed directly) finishes it."""
    monkeypatch.setattr(fake, "job_polls", 1)
    group_id, account_id, vnet_id = _tenant_side(resources, storage, network, "tenant2")
    fabric, container = _fabric_and_container(site_recovery, "Tenant2Cloud")
    policy = site_recovery.replication_policies.begin_create(
        RG, VAULT, "tenant2-policy", _policy_input(account_id)
    ).result()
    site_recovery.replication_protection_container_mappings.begin_create(
        RG,
        VAULT,
        fabric,
        container,
        "tenant2-mapping",
        asr.CreateProtectionContainerMappingInput(
            properties=asr.CreateProtectionContainerMappingInputProperties(
                target_protection_container_id="Microsoft Azure", policy_id=policy.id
            )
        ),
    ).result()
    protectable = next(
        iter(
            site_recovery.replication_protectable_items.list_by_replication_protection_containers(
                RG, VAULT, fabric, container
            )
        )
    )
    assert protectable.name is not None
    start = len(fake.calls)
    poller = site_recovery.replication_protected_items.begin_create(
        RG,
        VAULT,
        fabric,
        container,
        protectable.name,
        asr.EnableProtectionInput(
            properties=asr.EnableProtectionInputProperties(
                policy_id=policy.id,
                protectable_item_id=protectable.id,
                provider_specific_details=asr.HyperVReplicaAzureEnableProtectionInput(
                    hv_host_vm_id=protectable.name,
                    vm_name="t2-web1",
                    os_type="Windows",
                    target_azure_network_id=vnet_id,
                    target_azure_v2_resource_group_id=group_id,
                    target_storage_account_id=account_id,
                    use_managed_disks="true",
                ),
            )
        ),
        polling=False,
    )
    initial = poller.polling_method()._initial_response.http_response  # type: ignore[attr-defined]
    assert initial.status_code == 202
    assert initial.headers["Azure-AsyncOperation"] == initial.headers["Location"]
    assert initial.headers["Retry-After"] == "0"
    job_path = initial.headers["Azure-AsyncOperation"].split("?")[0].split("/operationresults/")[0]
    job_name = job_path.rsplit("/", 1)[-1]
    assert fake.calls[start:] == [("PUT", fake.calls[start][1])]

    pending = site_recovery.replication_protected_items.get(RG, VAULT, fabric, container, protectable.name)
    assert pending.properties is not None and pending.properties.protection_state == "EnablingProtection"
    states = [site_recovery.replication_jobs.get(RG, VAULT, job_name).properties.state for _ in range(2)]  # type: ignore[union-attr]
    assert states == ["InProgress", "Succeeded"]
    job = site_recovery.replication_jobs.get(RG, VAULT, job_name)
    assert job.properties is not None and job.properties.scenario_name == "EnableDr"
    assert job.properties.target_object_name == "t2-web1"
    assert job.properties.tasks and job.properties.tasks[0].state == "Succeeded"
    done = site_recovery.replication_protected_items.get(RG, VAULT, fabric, container, protectable.name)
    assert done.properties is not None and done.properties.protection_state == "Protected"

    # purge (DELETE) removes it without the disable checks
    site_recovery.replication_protected_items.begin_purge(RG, VAULT, fabric, container, protectable.name).result()
    assert (
        list(
            site_recovery.replication_protected_items.list_by_replication_protection_containers(
                RG, VAULT, fabric, container
            )
        )
        == []
    )


def test_policy_refuses_missing_or_remote_storage_account(
    fake: FakeAzure,
    site_recovery: SiteRecoveryManagementClient,
    storage: StorageManagementClient,
    resources: ResourceManagementClient,
) -> None:
    missing = f"/subscriptions/{TENANT_SUB}/resourceGroups/rg-x/providers/Microsoft.Storage/storageAccounts/sanothere"
    with pytest.raises(HttpResponseError) as not_found:
        site_recovery.replication_policies.begin_create(RG, VAULT, "bad-policy", _policy_input(missing))
    assert _asr_code(not_found.value) == "StorageAccountNotFound"
    resources.resource_groups.create_or_update("rg-far", res.ResourceGroup(location="eastus"))
    far = storage.storage_accounts.begin_create(
        "rg-far",
        "safaraway",
        st.StorageAccountCreateParameters(sku=st.Sku(name="Standard_LRS"), kind="StorageV2", location="East US"),
    ).result()
    assert far.id is not None
    with pytest.raises(HttpResponseError) as remote:
        site_recovery.replication_policies.begin_create(RG, VAULT, "bad-policy", _policy_input(far.id))
    assert _asr_code(remote.value) == "StorageAccountLocationMismatch"


def test_fail_next_job_fails_the_poller_and_rolls_back(
    fake: FakeAzure,
    site_recovery: SiteRecoveryManagementClient,
    storage: StorageManagementClient,
    resources: ResourceManagementClient,
) -> None:
    resources.resource_groups.create_or_update("rg-fail", res.ResourceGroup(location="westeurope"))
    account = storage.storage_accounts.begin_create(
        "rg-fail",
        "safailjob",
        st.StorageAccountCreateParameters(sku=st.Sku(name="Standard_LRS"), kind="StorageV2", location="westeurope"),
    ).result()
    assert account.id is not None
    fake.fail_next_job(r"/replicationPolicies/doomed-policy$", "ProviderError", "The VMM server did not answer.")
    poller = site_recovery.replication_policies.begin_create(RG, VAULT, "doomed-policy", _policy_input(account.id))
    with pytest.raises(HttpResponseError) as failed:
        poller.result()
    assert failed.value.error is not None and failed.value.error.code == "ProviderError"
    assert "The VMM server did not answer." in str(failed.value)
    with pytest.raises(ResourceNotFoundError):
        site_recovery.replication_policies.get(RG, VAULT, "doomed-policy")
    job = next(
        j
        for j in site_recovery.replication_jobs.list(RG, VAULT)
        if j.properties and j.properties.target_object_name == "doomed-policy"
    )
    assert job.properties is not None and job.properties.state == "Failed"
    assert job.properties.errors and job.properties.errors[0].service_error_details is not None
    assert job.properties.errors[0].service_error_details.code == "ProviderError"
    assert job.properties.errors[0].service_error_details.message == "The VMM server did not answer."
    # the next write is unaffected
    site_recovery.replication_policies.begin_create(RG, VAULT, "doomed-policy", _policy_input(account.id)).result()
    site_recovery.replication_policies.begin_delete(RG, VAULT, "doomed-policy").result()


# ---------------------------------------------------------------------------------------------------- injection


def test_injected_429_is_retried_by_the_sdk(fake: FakeAzure) -> None:
    client = SiteRecoveryManagementClient(fake.credential(), PROVIDER_SUB, **_options(fake, retry_total=1))
    fake.inject("GET", r"/replicationPolicies$", 429, "TooManyRequests", "Slow down.", retry_after=1)
    start, started = len(fake.calls), time.monotonic()
    policies = list(client.replication_policies.list(RG, VAULT))
    assert isinstance(policies, list)
    assert _calls_since(fake, start, "GET", "/replicationPolicies") == 2
    assert time.monotonic() - started >= 0.9  # it waited as Retry-After said


def test_injected_400_surfaces_its_code(fake: FakeAzure, site_recovery: SiteRecoveryManagementClient) -> None:
    fake.inject("PUT", r"/replicationPolicies/rejected$", 400, "InvalidParameter", "The input is invalid.")
    with pytest.raises(HttpResponseError) as rejected:
        site_recovery.replication_policies.begin_create(RG, VAULT, "rejected", _policy_input("/whatever"))
    assert rejected.value.status_code == 400
    # ASR's shape: a generic BadRequest, the specific code and message in the details.
    assert rejected.value.error is not None and rejected.value.error.code == "BadRequest"
    assert _asr_code(rejected.value) == "InvalidParameter"
    assert rejected.value.error.details[0].message == "The input is invalid."
    # times=1: the injection is used up; the next request reaches the fake's own validation
    with pytest.raises(HttpResponseError) as validated:
        site_recovery.replication_policies.begin_create(RG, VAULT, "rejected", _policy_input("/whatever"))
    assert _asr_code(validated.value) == "StorageAccountNotFound"
