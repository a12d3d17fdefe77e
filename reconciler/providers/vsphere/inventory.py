"""Bulk reads of a vCenter's inventory: every host in one PropertyCollector round trip, every VM in another.

Each read creates a ContainerView of the kinds it needs over the whole inventory and asks the
PropertyCollector for exactly the properties the reconciler compares (``RetrievePropertiesEx``, continued
with its token when vCenter pages a very large answer), never an object at a time: 2,000 VMs cost one
request, not 2,000. The view also carries the objects needed to name references in the same answer (a
host's cluster, a VM's host, a distributed port group's name), so no second lookup follows.

What comes back are frozen dataclasses with the values normalised (enums for closed vocabularies, bytes
and MiB as integers), ready for the provider to compare with the specs.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim, vmodl

from reconciler.providers.vsphere.faults import boundary
from reconciler.providers.vsphere.session import Session, container_view

HOST_PROPERTIES = (
    "name",
    "parent",
    "runtime.connectionState",
    "runtime.inMaintenanceMode",
    "runtime.powerState",
    "config.powerSystemInfo.currentPolicy",
    "config.powerSystemCapability.availablePolicy",
    "configManager.powerSystem",
    "hardware.cpuInfo.numCpuCores",
    "hardware.cpuInfo.numCpuThreads",
    "hardware.cpuInfo.numCpuPackages",
    "summary.hardware.vendor",
    "summary.hardware.model",
)
VM_PROPERTIES = (
    "name",
    "config.template",
    "config.instanceUuid",
    "config.hardware.numCPU",
    "config.hardware.memoryMB",
    "config.hardware.device",
    "config.memoryAllocation.reservation",
    "config.memoryAllocation.limit",
    "config.guestId",
    "config.guestFullName",
    "guest.toolsRunningStatus",
    "guest.toolsVersionStatus2",
    "runtime.powerState",
    "runtime.host",
)


class ConnectionState(enum.StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    NOT_RESPONDING = "notResponding"


class PowerState(enum.StrEnum):
    ON = "poweredOn"
    OFF = "poweredOff"
    SUSPENDED = "suspended"
    STANDBY = "standBy"  # hosts only
    UNKNOWN = "unknown"


class ControllerType(enum.StrEnum):
    IDE = "ide"
    SATA = "sata"
    NVME = "nvme"
    PVSCSI = "pvscsi"
    LSILOGIC = "lsilogic"
    LSILOGIC_SAS = "lsilogic-sas"
    BUSLOGIC = "buslogic"
    OTHER = "other"


class Provisioning(enum.StrEnum):
    THIN = "thin"
    THICK_LAZY = "thick-lazy"  # lazy-zeroed thick
    THICK_EAGER = "thick-eager"  # eager-zeroed thick (required for clustering, fault tolerance)
    RDM = "rdm"  # a raw device mapping: no provisioning of its own
    OTHER = "other"


class MacType(enum.StrEnum):
    MANUAL = "manual"  # set by an administrator: a migration keeps it
    GENERATED = "generated"  # made by the ESXi host
    ASSIGNED = "assigned"  # given out by vCenter


@dataclass(frozen=True)
class PowerPolicy:
    key: int
    short_name: str  # static (High performance), dynamic (Balanced), low (Low power), custom
    name: str


@dataclass(frozen=True)
class HostInfo:
    name: str
    moid: str
    cluster: str | None  # None: a standalone host
    connection_state: ConnectionState
    in_maintenance: bool
    power_state: PowerState
    power_policy: PowerPolicy | None
    available_policies: tuple[PowerPolicy, ...]
    power_system_moid: str | None
    cpu_packages: int
    cpu_cores: int
    cpu_threads: int
    vendor: str
    model: str


@dataclass(frozen=True)
class DiskInfo:
    label: str
    controller: ControllerType
    bus: int  # the controller's bus number
    unit: int  # the disk's unit number on that controller
    size_bytes: int
    provisioning: Provisioning
    file: str  # "[datastore] folder/disk.vmdk"


@dataclass(frozen=True)
class NicInfo:
    label: str
    adapter: str  # vmxnet3, e1000e, e1000, ...
    port_group: str | None  # the standard or distributed port group's name
    mac: str | None
    mac_type: MacType | None
    connected_at_power_on: bool


@dataclass(frozen=True)
class VmInfo:
    name: str
    moid: str
    instance_uuid: str | None
    host: str | None  # the ESXi host's name
    power_state: PowerState
    vcpus: int
    memory_mb: int
    memory_reservation_mb: int
    memory_limit_mb: int | None  # None: unlimited
    guest_id: str | None
    guest_full_name: str | None
    tools_running: str | None  # guestToolsRunning, guestToolsNotRunning, ...
    tools_version: str | None  # guestToolsCurrent, guestToolsNeedUpgrade, guestToolsNotInstalled, ...
    disks: tuple[DiskInfo, ...]
    nics: tuple[NicInfo, ...]


def retrieve(session: Session, kinds: Mapping[type[Any], Iterable[str]]) -> list[tuple[Any, dict[str, Any]]]:
    """Every object of ``kinds`` in the inventory with the given properties, in one PropertyCollector call
    (plus continuations when vCenter pages the answer): ``[(managed object, {property path: value})]``."""
    collector = vmodl.query.PropertyCollector
    view = container_view(session, list(kinds))
    try:
        traverse = collector.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)
        spec = collector.FilterSpec(
            objectSet=[collector.ObjectSpec(obj=view, skip=True, selectSet=[traverse])],
            propSet=[collector.PropertySpec(type=k, pathSet=list(paths), all=False) for k, paths in kinds.items()],
        )
        pc = session.content.propertyCollector
        result = pc.RetrievePropertiesEx(specSet=[spec], options=collector.RetrieveOptions())
        found: list[tuple[Any, dict[str, Any]]] = []
        while result is not None:
            for content in result.objects or []:
                found.append((content.obj, {prop.name: prop.val for prop in content.propSet or []}))
            result = pc.ContinueRetrievePropertiesEx(token=result.token) if result.token else None
        return found
    finally:
        view.DestroyView()


def read_hosts(session: Session) -> list[HostInfo]:
    """Every ESXi host of the vCenter, with its power policy, maintenance and connection state and CPUs."""
    with boundary(server=session.server, action="reading the hosts"):
        objects = retrieve(session, {vim.HostSystem: HOST_PROPERTIES, vim.ComputeResource: ("name",)})
    clusters = {
        obj._moId: props.get("name", "") for obj, props in objects if isinstance(obj, vim.ClusterComputeResource)
    }
    hosts = [host_from_properties(obj, props, clusters) for obj, props in objects if isinstance(obj, vim.HostSystem)]
    return sorted(hosts, key=lambda h: h.name.casefold())


def read_vms(session: Session) -> list[VmInfo]:
    """Every VM of the vCenter (templates left out) with its disks, NICs, memory, guest and power state."""
    kinds: dict[type[Any], Iterable[str]] = {
        vim.VirtualMachine: VM_PROPERTIES,
        vim.HostSystem: ("name",),
        vim.dvs.DistributedVirtualPortgroup: ("name", "key"),
    }
    with boundary(server=session.server, action="reading the VMs"):
        objects = retrieve(session, kinds)
    host_names = {obj._moId: props.get("name", "") for obj, props in objects if isinstance(obj, vim.HostSystem)}
    portgroups = {
        props.get("key", ""): props.get("name", "")
        for obj, props in objects
        if isinstance(obj, vim.dvs.DistributedVirtualPortgroup)
    }
    vms = [
        _vm(obj, props, host_names, portgroups)
        for obj, props in objects
        if isinstance(obj, vim.VirtualMachine) and not props.get("config.template")
    ]
    return sorted(vms, key=lambda v: v.name.casefold())


def _policy(value: Any) -> PowerPolicy | None:
    if value is None:
        return None
    return PowerPolicy(key=int(value.key), short_name=str(value.shortName), name=str(value.name or value.shortName))


def _enum(kind: type[enum.StrEnum], value: Any, fallback: enum.StrEnum) -> Any:
    try:
        return kind(str(value))
    except ValueError:
        return fallback


def host_from_properties(obj: Any, props: dict[str, Any], clusters: Mapping[str, str]) -> HostInfo:
    parent = props.get("parent")
    power_system = props.get("configManager.powerSystem")
    return HostInfo(
        name=str(props.get("name", obj._moId)),
        moid=str(obj._moId),
        cluster=clusters.get(parent._moId) if parent is not None else None,
        connection_state=_enum(ConnectionState, props.get("runtime.connectionState"), ConnectionState.DISCONNECTED),
        in_maintenance=bool(props.get("runtime.inMaintenanceMode", False)),
        power_state=_enum(PowerState, props.get("runtime.powerState"), PowerState.UNKNOWN),
        power_policy=_policy(props.get("config.powerSystemInfo.currentPolicy")),
        available_policies=tuple(
            p for p in (_policy(v) for v in props.get("config.powerSystemCapability.availablePolicy") or []) if p
        ),
        power_system_moid=str(power_system._moId) if power_system is not None else None,
        cpu_packages=int(props.get("hardware.cpuInfo.numCpuPackages") or 0),
        cpu_cores=int(props.get("hardware.cpuInfo.numCpuCores") or 0),
        cpu_threads=int(props.get("hardware.cpuInfo.numCpuThreads") or 0),
        vendor=str(props.get("summary.hardware.vendor") or ""),
        model=str(props.get("summary.hardware.model") or ""),
    )


def _vm(obj: Any, props: dict[str, Any], host_names: Mapping[str, str], portgroups: Mapping[str, str]) -> VmInfo:
    devices = list(props.get("config.hardware.device") or [])
    host = props.get("runtime.host")
    limit = props.get("config.memoryAllocation.limit")
    return VmInfo(
        name=str(props.get("name", obj._moId)),
        moid=str(obj._moId),
        instance_uuid=props.get("config.instanceUuid"),
        host=host_names.get(host._moId) if host is not None else None,
        power_state=_enum(PowerState, props.get("runtime.powerState"), PowerState.UNKNOWN),
        vcpus=int(props.get("config.hardware.numCPU") or 0),
        memory_mb=int(props.get("config.hardware.memoryMB") or 0),
        memory_reservation_mb=int(props.get("config.memoryAllocation.reservation") or 0),
        memory_limit_mb=None if limit is None or int(limit) < 0 else int(limit),
        guest_id=props.get("config.guestId"),
        guest_full_name=props.get("config.guestFullName"),
        tools_running=props.get("guest.toolsRunningStatus") or None,
        tools_version=props.get("guest.toolsVersionStatus2") or None,
        disks=_disks(devices),
        nics=_nics(devices, portgroups),
    )


_CONTROLLERS: tuple[tuple[type[Any], ControllerType], ...] = (
    (vim.vm.device.ParaVirtualSCSIController, ControllerType.PVSCSI),
    (vim.vm.device.VirtualLsiLogicSASController, ControllerType.LSILOGIC_SAS),
    (vim.vm.device.VirtualLsiLogicController, ControllerType.LSILOGIC),
    (vim.vm.device.VirtualBusLogicController, ControllerType.BUSLOGIC),
    (vim.vm.device.VirtualIDEController, ControllerType.IDE),
    (vim.vm.device.VirtualSATAController, ControllerType.SATA),
    (vim.vm.device.VirtualNVMEController, ControllerType.NVME),
)
_ADAPTERS: tuple[tuple[type[Any], str], ...] = (
    (vim.vm.device.VirtualVmxnet3, "vmxnet3"),
    (vim.vm.device.VirtualVmxnet2, "vmxnet2"),
    (vim.vm.device.VirtualE1000e, "e1000e"),
    (vim.vm.device.VirtualE1000, "e1000"),
    (vim.vm.device.VirtualPCNet32, "pcnet32"),
    (vim.vm.device.VirtualSriovEthernetCard, "sriov"),
)


def _controller_type(device: Any) -> ControllerType:
    return next((kind for cls, kind in _CONTROLLERS if isinstance(device, cls)), ControllerType.OTHER)


def _disks(devices: list[Any]) -> tuple[DiskInfo, ...]:
    # A disk names its controller by key; the controller's own device list may be empty (vcsim), so join
    # on the disk's controllerKey.
    controllers = {d.key: d for d in devices if isinstance(d, vim.vm.device.VirtualController)}
    disks: list[tuple[int, int, DiskInfo]] = []
    for device in devices:
        if not isinstance(device, vim.vm.device.VirtualDisk):
            continue
        d: Any = device  # pyVmomi's stubs make every optional field Optional; vCenter fills these
        controller = controllers.get(d.controllerKey)
        backing: Any = d.backing
        if isinstance(backing, vim.vm.device.VirtualDisk.RawDiskMappingVer1BackingInfo):
            provisioning = Provisioning.RDM
        elif getattr(backing, "thinProvisioned", None):
            provisioning = Provisioning.THIN
        elif hasattr(backing, "eagerlyScrub"):
            provisioning = Provisioning.THICK_EAGER if backing.eagerlyScrub else Provisioning.THICK_LAZY
        else:
            provisioning = Provisioning.OTHER
        size = d.capacityInBytes or (d.capacityInKB or 0) * 1024
        order = (int(d.controllerKey or 0), int(d.unitNumber or 0))
        disks.append(
            (
                *order,
                DiskInfo(
                    label=str(d.deviceInfo.label if d.deviceInfo else f"disk {d.key}"),
                    controller=_controller_type(controller) if controller is not None else ControllerType.OTHER,
                    bus=int(controller.busNumber) if controller is not None else 0,
                    unit=int(d.unitNumber or 0),
                    size_bytes=int(size),
                    provisioning=provisioning,
                    file=str(getattr(backing, "fileName", "") or ""),
                ),
            )
        )
    return tuple(disk for *_, disk in sorted(disks, key=lambda item: item[:2]))  # by controller, then unit


def _nics(devices: list[Any], portgroups: Mapping[str, str]) -> tuple[NicInfo, ...]:
    nics: list[NicInfo] = []
    for device in devices:
        if not isinstance(device, vim.vm.device.VirtualEthernetCard):
            continue
        d: Any = device  # as in _disks: fields vCenter always fills are Optional in the stubs
        backing: Any = d.backing
        port_group: str | None = None
        if isinstance(backing, vim.vm.device.VirtualEthernetCard.NetworkBackingInfo):
            port_group = backing.deviceName
        elif isinstance(backing, vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo):
            key: Any = backing.port.portgroupKey
            port_group = portgroups.get(key, key)
        elif isinstance(backing, vim.vm.device.VirtualEthernetCard.OpaqueNetworkBackingInfo):
            port_group = backing.opaqueNetworkId
        mac_type = _enum(MacType, d.addressType, MacType.GENERATED) if d.addressType else None
        nics.append(
            NicInfo(
                label=str(d.deviceInfo.label if d.deviceInfo else f"nic {d.key}"),
                adapter=next((name for cls, name in _ADAPTERS if isinstance(d, cls)), "other"),
                port_group=port_group,
                mac=d.macAddress.lower() if d.macAddress else None,
                mac_type=mac_type,
                connected_at_power_on=bool(d.connectable.startConnected) if d.connectable else False,
            )
        )
    return tuple(nics)
