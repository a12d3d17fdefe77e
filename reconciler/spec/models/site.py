"""``kind: Site``: one VMM server and what hangs off it: its recovery vault, hosts, and the NVGRE chain
(logical networks, network sites, IP pools, uplink profiles, port classifications, logical switches,
the default VM network). Order in the YAML follows the order VMM needs (DOMAIN.md).
"""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import Field

from reconciler.spec.models.common import (
    ApiVersion,
    AzureRegion,
    Cidr,
    DisplayName,
    Guid,
    HostName,
    IpAddress,
    Managed,
    Metadata,
    Port,
    ResourceGroupName,
    SpecModel,
    Url,
    VaultName,
    Vlan,
    WindowsHostName,
)


class VmmEndpoint(SpecModel):
    """The VMM server, reached over WinRM; credentials come from the environment or Kerberos."""

    server: WindowsHostName = Field(description="VMM server FQDN; the WinRM endpoint is https://SERVER:5986 unless set")
    port: Port = Field(5986, description="WinRM port")
    transport: Literal["https", "http"] = Field("https", description="WinRM transport; http only inside a lab")


class VCenterEndpoint(SpecModel):
    """The vCenter managing the site's ESXi hosts (platform: vsphere); credentials come from the environment."""

    server: HostName = Field(description="vCenter FQDN (vSphere hosts need one)")
    port: Port = Field(443, description="vCenter's HTTPS port (the SDK is https://SERVER:PORT/sdk)")


class RecoveryVault(Managed):
    """The Recovery Services vault the VMM server is registered to, in the provider's subscription."""

    subscription_id: Guid
    resource_group: ResourceGroupName
    name: VaultName
    location: AzureRegion


class Platform(enum.StrEnum):
    HYPERV = "hyperv"
    VSPHERE = "vsphere"


class Vendor(enum.StrEnum):
    DELL = "dell"
    HPE = "hpe"
    GENERIC = "generic"


class Bmc(SpecModel):
    address: Url = Field(
        description="Redfish base URL of the BMC (iDRAC, iLO), e.g. https://10.0.0.21; each host its own"
    )
    vendor: Vendor = Field(description="dell, hpe or generic: decides which BIOS attributes apply")


class Host(Managed):
    """A hypervisor host. Hosts are configured, never created or deleted by the tool."""

    name: HostName
    platform: Platform
    host_group: str = Field(description="the VMM host group path, e.g. All Hosts/West")
    bmc: Bmc | None = None


class SubnetVlan(SpecModel):
    subnet: Cidr
    vlan: Vlan = 0


class IpRange(SpecModel):
    start: IpAddress
    end: IpAddress


class IpPool(Managed):
    """A static IP address pool on a network site (the provider-address pool for NVGRE)."""

    name: DisplayName
    subnet: Cidr
    range: IpRange
    gateway: IpAddress | None = None
    dns_servers: tuple[IpAddress, ...] = ()


class NetworkSite(Managed):
    """A logical network definition: subnets and VLANs made available to host groups."""

    name: DisplayName
    host_groups: tuple[str, ...] = Field(min_length=1)
    subnets: tuple[SubnetVlan, ...] = Field(min_length=1)
    ip_pools: tuple[IpPool, ...] = ()


class LogicalNetwork(Managed):
    name: DisplayName
    network_virtualization: bool = Field(False, description="enable Hyper-V network virtualization (NVGRE)")
    sites: tuple[NetworkSite, ...] = ()


class TeamingMode(enum.StrEnum):
    SWITCH_INDEPENDENT = "SwitchIndependent"
    STATIC = "Static"
    LACP = "Lacp"


class LoadBalancing(enum.StrEnum):
    HYPERV_PORT = "HyperVPort"
    DYNAMIC = "Dynamic"
    TRANSPORT_PORTS = "TransportPorts"
    IP_ADDRESSES = "IPAddresses"
    MAC_ADDRESSES = "MacAddresses"
    HOST_DEFAULT = "HostDefault"


class Teaming(SpecModel):
    mode: TeamingMode = TeamingMode.SWITCH_INDEPENDENT
    load_balancing: LoadBalancing = LoadBalancing.HYPERV_PORT


class UplinkPortProfile(Managed):
    name: DisplayName
    sites: tuple[str, ...] = Field(min_length=1, description="network sites (by name) this uplink carries")
    network_virtualization: bool = Field(False, description="must be true on the uplink carrying provider addresses")
    teaming: Teaming = Teaming()


class PortClassification(Managed):
    """A port classification and its virtual port profile (security settings tenants' NICs get)."""

    name: DisplayName
    description: str = ""
    dhcp_guard: bool = False
    router_guard: bool = False
    mac_spoofing: bool = False


class UplinkMode(enum.StrEnum):
    NO_TEAM = "NoTeam"
    TEAM = "Team"
    EMBEDDED_TEAM = "EmbeddedTeam"


class LogicalSwitch(Managed):
    name: DisplayName
    uplink_mode: UplinkMode
    sriov: bool = Field(False, description="SR-IOV; cannot change after the switch is created")
    uplink_port_profiles: tuple[str, ...] = Field(min_length=1)
    port_classifications: tuple[str, ...] = ()
    hosts: tuple[HostName, ...] = Field((), description="hosts the switch is deployed to")


class DefaultVmNetwork(Managed):
    """The provider's default VM network, isolated with Hyper-V network virtualization."""

    name: DisplayName
    logical_network: str
    isolation: Literal["WindowsNetworkVirtualization"] = "WindowsNetworkVirtualization"
    address_family: Literal["IPv4"] = "IPv4"
    subnet: Cidr


class SiteSpec(SpecModel):
    vmm: VmmEndpoint
    vcenter: VCenterEndpoint | None = None
    recovery_vault: RecoveryVault
    host_groups: tuple[str, ...] = Field(min_length=1)
    hosts: tuple[Host, ...] = ()
    logical_networks: tuple[LogicalNetwork, ...] = ()
    uplink_port_profiles: tuple[UplinkPortProfile, ...] = ()
    port_classifications: tuple[PortClassification, ...] = ()
    logical_switches: tuple[LogicalSwitch, ...] = ()
    default_vm_network: DefaultVmNetwork | None = None


class SiteDocument(SpecModel):
    api_version: ApiVersion
    kind: Literal["Site"]
    metadata: Metadata
    spec: SiteSpec
