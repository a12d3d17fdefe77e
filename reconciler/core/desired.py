"""The desired object of each kind, typed: the shape ``engine.expand`` builds from the specs, providers read
back and write, and the planner compares. One ``TypedDict`` per kind, so a field name is written once here and
every other use of it (expand building it, a provider reading it, the inverse writing specs from it) is
checked by mypy against this spelling. The camelCase keys are the spec's own YAML names where the spec has
the field (``recoveryPointHours``), so a field reads the same from the YAML to the provider's request body;
a test holds every expanded resource to its kind's type.

At run time these are plain dicts (no cost on a 40,000-resource plan): ``of`` only tells mypy which shape a
resource's ``desired`` has.
"""

# No ``from __future__ import annotations`` here: on Python 3.11 a TypedDict's ``NotRequired`` keys are told
# apart only from evaluated annotations (``__optional_keys__``), which the test of the shapes reads.
from typing import Any, NotRequired, TypedDict, TypeVar, cast

from reconciler.core.resources import Resource

# --- the site: the VMM server's NVGRE chain, the vault ---------------------------------------------------


class Vault(TypedDict):
    subscriptionId: str
    resourceGroup: str
    name: str
    location: str
    sku: str


class VmmServer(TypedDict):
    server: str
    vault: str


class LogicalNetwork(TypedDict):
    name: str
    networkVirtualization: bool


class SubnetVlan(TypedDict):
    subnet: str
    vlan: int


class NetworkSite(TypedDict):
    name: str
    logicalNetwork: str
    hostGroups: list[str]
    subnets: list[SubnetVlan]


class IpPool(TypedDict):
    name: str
    networkSite: str
    subnet: str
    rangeStart: str
    rangeEnd: str
    gateway: str | None
    dnsServers: list[str]


class UplinkPortProfile(TypedDict):
    name: str
    networkSites: list[str]
    networkVirtualization: bool
    teamingMode: str
    loadBalancing: str


class PortClassification(TypedDict):
    name: str
    description: str
    dhcpGuard: bool
    routerGuard: bool
    macSpoofing: bool


class LogicalSwitch(TypedDict):
    name: str
    uplinkMode: str
    sriov: bool
    uplinkPortProfiles: list[str]
    portClassifications: list[str]


class HostSwitch(TypedDict):
    host: str
    logicalSwitch: str


class VmSubnet(TypedDict):
    name: str
    subnet: str


class VmNetwork(TypedDict):
    name: str
    logicalNetwork: str
    isolation: str
    subnets: list[VmSubnet]


# --- a tenant: its cloud, VMs, and disaster recovery --------------------------------------------------------


class Cloud(TypedDict):
    name: str
    hostGroups: list[str]
    logicalNetworks: list[str]
    capacity: NotRequired[dict[str, Any]]


class VmMemory(TypedDict):
    """In MB, as Hyper-V stores it: startup = VirtualQuantity, minimum = Reservation, maximum = Limit."""

    dynamic: bool
    startup: int
    minimum: int
    maximum: int
    bufferPercent: int
    priority: int


class ResourceGroup(TypedDict):
    subscriptionId: str
    name: str
    location: str


class StorageAccount(TypedDict):
    subscriptionId: str
    resourceGroup: str
    name: str
    location: str
    sku: str


class Subnet(TypedDict):
    name: str
    prefix: str


class VirtualNetwork(TypedDict):
    subscriptionId: str
    resourceGroup: str
    name: str
    location: str
    addressSpace: list[str]
    subnets: list[Subnet]


class ReplicationPolicy(TypedDict):
    vault: str
    name: str
    replicationIntervalSeconds: int
    recoveryPointHours: int
    appConsistentSnapshotHours: int
    storageAccount: str
    startTime: NotRequired[str]


class PolicyAssociation(TypedDict):
    cloud: str
    policy: str


class NetworkMapping(TypedDict):
    vmNetwork: str
    azureSubscriptionId: str
    azureResourceGroup: str
    azureNetwork: str
    azureSubnet: str


class ProtectedItem(TypedDict):
    vm: str
    cloud: str
    policy: str
    storageAccount: str
    osType: str
    targetVmSize: str
    targetResourceGroup: str
    targetNetwork: str
    targetSubnet: str
    replicateTo: str
    diskType: NotRequired[str]
    osDisk: NotRequired[str]


class RecoveryPlan(TypedDict):
    name: str
    groups: list[list[str]]


# --- hosts: BIOS through the BMC, the hypervisor's power policy ----------------------------------------------


class Bios(TypedDict):
    vendor: str
    attributes: dict[str, str]


class PowerPolicy(TypedDict):
    platform: str
    powerPlan: NotRequired[str]  # Hyper-V: a Windows power plan
    policy: NotRequired[str]  # vSphere: the host power policy's short name


class HostState(TypedDict):
    """Inventory: never declared, so never desired (the engine reads it with an empty desired dict)."""


BY_KIND: dict[str, type] = {
    "asr.vault": Vault,
    "asr.vmm_server": VmmServer,
    "vmm.logical_network": LogicalNetwork,
    "vmm.network_site": NetworkSite,
    "vmm.ip_pool": IpPool,
    "vmm.uplink_port_profile": UplinkPortProfile,
    "vmm.port_classification": PortClassification,
    "vmm.logical_switch": LogicalSwitch,
    "vmm.host_switch": HostSwitch,
    "vmm.vm_network": VmNetwork,
    "vmm.cloud": Cloud,
    "hyperv.vm_memory": VmMemory,
    "azure.resource_group": ResourceGroup,
    "azure.storage_account": StorageAccount,
    "azure.virtual_network": VirtualNetwork,
    "asr.replication_policy": ReplicationPolicy,
    "asr.policy_association": PolicyAssociation,
    "asr.network_mapping": NetworkMapping,
    "asr.protected_item": ProtectedItem,
    "asr.recovery_plan": RecoveryPlan,
    "bmc.bios": Bios,
    "host.power_policy": PowerPolicy,
    "host.state": HostState,
}
"""Each kind's desired type (``tests/test_desired.py`` holds it to ``core.kinds.KINDS`` and to expand)."""

_T = TypeVar("_T")


def of(resource: Resource, shape: type[_T]) -> _T:
    """``resource.desired`` as its kind's type (checked by mypy where it is read; a plain dict at run time)."""
    return cast(_T, resource.desired)


def keys(kind: str) -> tuple[frozenset[str], frozenset[str]]:
    """The required and the optional keys of ``kind``'s desired object."""
    shape: Any = BY_KIND[kind]
    return frozenset(shape.__required_keys__), frozenset(shape.__optional_keys__)
