"""``kind: Tenant``: one hosting customer: its Azure Pack plan and Azure subscription, its VMM cloud and
VM networks, its disaster recovery to Azure (resource group, storage, VNet, policy, network mappings,
where replicas go, recovery plans) and the VMs it protects.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import Field

from reconciler.spec.models.common import (
    ApiVersion,
    AzureRegion,
    Cidr,
    DisplayName,
    Guid,
    Managed,
    Metadata,
    PolicyName,
    RecoveryPlanName,
    ResourceGroupName,
    SpecModel,
    StorageAccountName,
    SubnetName,
    VirtualNetworkName,
    VmName,
    VmSize,
)
from reconciler.spec.models.memory import MemorySettings


class AzureSubscription(SpecModel):
    tenant_id: Guid = Field(description="the Azure AD tenant (directory) of the subscription")
    subscription_id: Guid


class Plan(SpecModel):
    """The Windows Azure Pack plan, mapped 1-to-1 to an Azure subscription, with its limits."""

    name: DisplayName
    azure: AzureSubscription
    allowed_regions: tuple[AzureRegion, ...] = Field(min_length=1)
    allowed_vm_sizes: tuple[VmSize, ...] = Field(min_length=1)
    allowed_os_images: tuple[str, ...] = ()


class CloudCapacity(SpecModel):
    vms: int | None = Field(None, ge=0)
    vcpus: int | None = Field(None, ge=0)
    memory_gb: int | None = Field(None, ge=0)
    storage_gb: int | None = Field(None, ge=0)


class Cloud(Managed):
    """The tenant's own VMM cloud: the ASR protection container."""

    name: DisplayName
    host_groups: tuple[str, ...] = Field(min_length=1)
    logical_networks: tuple[str, ...] = Field(min_length=1, description="logical networks added to the cloud")
    capacity: CloudCapacity | None = None


class Isolation(enum.StrEnum):
    NETWORK_VIRTUALIZATION = "WindowsNetworkVirtualization"
    VLAN = "VLANNetwork"
    NONE = "NoIsolation"


class VmSubnet(SpecModel):
    name: DisplayName
    subnet: Cidr


class VmNetwork(Managed):
    name: DisplayName
    logical_network: str
    isolation: Isolation = Isolation.NETWORK_VIRTUALIZATION
    subnets: tuple[VmSubnet, ...] = ()


class StorageSku(enum.StrEnum):
    STANDARD_LRS = "Standard_LRS"
    STANDARD_GRS = "Standard_GRS"
    STANDARD_RAGRS = "Standard_RAGRS"
    STANDARD_ZRS = "Standard_ZRS"
    PREMIUM_LRS = "Premium_LRS"


class StorageAccount(Managed):
    name: StorageAccountName
    sku: StorageSku = StorageSku.STANDARD_GRS


class AzureSubnet(SpecModel):
    name: SubnetName
    prefix: Cidr


class VirtualNetwork(Managed):
    name: VirtualNetworkName
    address_space: tuple[Cidr, ...] = Field(min_length=1)
    subnets: tuple[AzureSubnet, ...] = Field(min_length=1)


class ReplicationPolicy(Managed):
    """ASR replication policy (HyperVReplicaAzure) in the provider's vault."""

    name: PolicyName
    replication_interval_seconds: Literal[30, 300, 900] = Field(
        300, description="how often changes are copied: 30, 300 or 900 seconds"
    )
    recovery_point_hours: int = Field(
        24, ge=0, le=24, description="hours of recovery points kept, 0-24 (recoveryPointHistoryDuration)"
    )
    app_consistent_snapshot_hours: int = Field(
        0, ge=0, le=12, description="hours between app-consistent snapshots, 0-12, not above recoveryPointHours"
    )
    start_time: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] | None = Field(
        None, description="initial replication start time, HH:MM (default: immediately)"
    )


class NetworkMapping(Managed):
    """Maps a tenant VM network to the tenant's Azure VNet and subnet for failover."""

    vm_network: DisplayName
    azure_network: VirtualNetworkName
    azure_subnet: SubnetName


class ReplicaTarget(enum.StrEnum):
    """Where protected VMs replicate to in Azure."""

    MANAGED_DISKS = "ManagedDisks"  # managed disks, the storage account a cache (since 2023; the default)
    STORAGE_ACCOUNT = "StorageAccount"  # the storage account's page blobs; managed disks made at failover


class DiskType(enum.StrEnum):
    STANDARD_LRS = "Standard_LRS"
    STANDARD_SSD_LRS = "StandardSSD_LRS"
    PREMIUM_LRS = "Premium_LRS"


class RecoveryGroup(SpecModel):
    """VMs that fail over together; the groups of a recovery plan boot one after the other."""

    vms: tuple[VmName, ...] = Field(min_length=1, description="protected VMs of the tenant, by name")


class RecoveryPlan(Managed):
    """An ASR recovery plan: the tenant's protected VMs in groups that fail over together, in order."""

    name: RecoveryPlanName = Field(description="the plan's name in the vault (unique in the site's vault)")
    groups: tuple[RecoveryGroup, ...] = Field(min_length=1, description="boot groups, in failover order")


DRILL_SUFFIX = "-drill"
VNET_NAME_MAX = 64  # Azure's limit on a virtual network's name


class Drill(Managed):
    """The isolated network DR drills fail over into (``reconciler drill``): a virtual network the tool creates
    in the recovery resource group with the recovery VNet's address space and subnets, never peered; its
    ``lifecycle`` is that network's."""

    network: VirtualNetworkName | None = Field(
        None, description="the test network's name (default: the recovery virtual network's name + '-drill')"
    )


class Recovery(Managed):
    """Disaster recovery to Azure; its ``lifecycle`` is the recovery resource group's."""

    resource_group: ResourceGroupName = Field(description="in the tenant's subscription, in the vault's region")
    location: AzureRegion | None = Field(None, description="region of the tenant's recovery resources; the vault's")
    storage_account: StorageAccount
    virtual_network: VirtualNetwork
    policy: ReplicationPolicy
    network_mappings: tuple[NetworkMapping, ...] = ()
    default_target_vm_size: VmSize
    replicate_to: ReplicaTarget = Field(
        ReplicaTarget.MANAGED_DISKS,
        description="ManagedDisks (default: the storage account is the cache) or StorageAccount (the older page "
        "blob replicas); changing it re-protects every VM of the tenant",
    )
    disk_type: DiskType | None = Field(
        None, description="managed disk type of the replicas: Standard_LRS (default), StandardSSD_LRS, Premium_LRS"
    )
    plans: tuple[RecoveryPlan, ...] = Field((), description="recovery plans: groups of VMs that fail over together")
    drill: Drill | None = Field(
        None, description="the isolated test network of DR drills (reconciler drill); without it a drill refuses"
    )

    @property
    def drill_network(self) -> str | None:
        """The drill's test network by name (None: the tenant has no drill block)."""
        if self.drill is None:
            return None
        if self.drill.network is not None:
            return self.drill.network
        return self.virtual_network.name[: VNET_NAME_MAX - len(DRILL_SUFFIX)] + DRILL_SUFFIX


class OsType(enum.StrEnum):
    WINDOWS = "Windows"
    LINUX = "Linux"


class Vm(Managed):
    """A tenant VM. VMs are configured (memory, protection), never created or deleted by the tool."""

    name: VmName
    protect: bool = Field(False, description="enable Azure Site Recovery protection")
    os_type: OsType = OsType.WINDOWS
    memory_profile: str | None = Field(None, description="a MemoryProfile by name")
    memory: MemorySettings | None = Field(None, description="inline memory settings (instead of memoryProfile)")
    target_vm_size: VmSize | None = Field(None, description="Azure size after failover; default from recovery")
    os_disk: str | None = Field(
        None,
        min_length=1,
        description="the VHD name of the OS disk, when VMM marks none of the VM's disks as the OS disk",
    )


class TenantSpec(SpecModel):
    display_name: DisplayName | None = None
    site: str = Field(description="the Site (by metadata.name) this tenant lives on")
    plan: Plan
    cloud: Cloud
    vm_networks: tuple[VmNetwork, ...] = ()
    recovery: Recovery | None = None
    vms: tuple[Vm, ...] = ()


class TenantDocument(SpecModel):
    api_version: ApiVersion
    kind: Literal["Tenant"]
    metadata: Metadata
    spec: TenantSpec
