"""A System Center VMM server and its Hyper-V hosts, emulated for the tests' WinRM endpoint
(``tests/winrm_endpoint.py``): plugged in as the endpoint's handler, it answers each shipped script the way the
real cmdlets would, on the machine the script was sent to (the VMM server runs the ``vmm_*`` scripts, a Hyper-V
host ``hyperv_memory`` and ``host_power``; anything else fails as it would there).

It keeps VMM's state (``tests/vmm_state.py``) and enforces the rules the embedded estate enforces, and those of
VMM and Hyper-V the provider must get right:
- the fabric (``tests/vmm_fabric.py``, ``vmm_switching.py``, ``vmm_tenancy.py``): dependencies exist before what
  needs them, nothing in use is removed;
- VM memory: a running VM refuses what needs it off (startup, dynamic on/off, a higher minimum, a lower maximum);
  given a startup above the minimum, ``Set-SCVirtualMachine`` sets the minimum equal to it (VMM keeps
  VirtualQuantity = Reservation), so report-maximum-at-boot must go through WMI on the host
  (``ModifyResourceSettings``), which VMM sees only after ``Read-SCVirtualMachine``;
- hosts: ``Disable-SCVMHost -MoveWithinCluster`` live-migrates the running VMs to another host of the cluster;
- power plans: ``powercfg /setactive`` knows the host's schemes only;
- jobs run ``job_polls`` polls, and one can be made to fail (``fail_next``) with VMM's ErrorInfo.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests import winrm_powershell as ps
from tests.vmm_fabric import networks, ports
from tests.vmm_state import CmdletError, Record, State, result, unknown, wanted
from tests.vmm_switching import switches
from tests.vmm_tenancy import clouds, vm_networks
from tests.winrm_endpoint import WinRMEndpoint

BALANCED = "381b4222-f694-41f0-9685-ff5bb260df2e"
SCHEMES = {
    BALANCED: "Balanced",
    "8c5e7fda-e8bf-4a96-9a85-a6e23a8c635c": "High performance",
    "a1841308-3541-4fab-bc81-f71556f20b4a": "Power saver",
}
_VMM_SCRIPTS: dict[str, Callable[[State, dict[str, Any]], list[Any]]] = {
    "vmm_networks": networks,
    "vmm_ports": ports,
    "vmm_switches": switches,
    "vmm_vm_networks": vm_networks,
    "vmm_clouds": clouds,
}


class VmmEmulator:
    def __init__(self, server: str, *, job_polls: int = 1) -> None:
        self.state = State(server, job_polls=job_polls)
        self.server = server
        self.maintenance: list[tuple[str, bool]] = []  # (host, in maintenance) as each change happened
        self.migrations: list[tuple[str, str, str]] = []  # (VM, from host, to host) of each live migration

    # --- plugging in ---------------------------------------------------------------------------------------

    def handler_for(self, endpoint: WinRMEndpoint) -> ps.Handler:
        """The endpoint's handler: answers as the machine the client named (the Host header) would."""

        def handle(script: str, data: Any) -> ps.Reply:
            host = endpoint.current_call().host.rsplit(":", 1)[0]
            return self.reply(host, script, data)

        return handle

    def reply(self, machine: str, script: str, data: Any) -> ps.Reply:
        """What ``script`` prints when run on ``machine`` with ``data``."""
        args = data if isinstance(data, dict) else {}
        with self.state.lock:
            try:
                return ps.result(*self._run(machine, script, args))
            except CmdletError as exc:
                return exc.reply()

    def _run(self, machine: str, script: str, data: dict[str, Any]) -> list[Any]:
        host = self.state.find("host", name=machine)
        if machine.casefold() == self.server.casefold():
            if script in _VMM_SCRIPTS:
                return _VMM_SCRIPTS[script](self.state, data)
            local: dict[str, Callable[[dict[str, Any]], list[Any]]] = {
                "vmm_vms": self._vms,
                "vmm_hosts": self._hosts,
                "vmm_jobs": self._jobs,
                "server_info": lambda _: [
                    {"computerName": machine.split(".", maxsplit=1)[0].upper(), "vmmModule": True}
                ],
            }
            if script in local:
                return local[script](data)
        elif host is not None and script == "hyperv_memory":
            return self._wmi_memory(host, data)
        elif host is not None and script == "host_power":
            return self._power(host, data)
        if script.startswith("vmm_"):
            raise CmdletError(
                "The specified module 'virtualmachinemanager' was not loaded because no valid module file was found "
                "in any module directory.",
                cmdlet="Import-Module",
                category="ResourceUnavailable",
                code="Modules_ModuleNotFound",
            )
        raise CmdletError(f"{script} cannot run on {machine}", cmdlet="Get-WmiObject", category="InvalidArgument")

    # --- test knobs ------------------------------------------------------------------------------------------

    def fail_next(self, job_name: str, *, code: str, problem: str, action: str = "") -> None:
        """The next VMM job whose name matches ``job_name`` fails with this ErrorInfo (and changes nothing)."""
        with self.state.lock:
            self.state.fail_next(job_name, code=code, problem=problem, action=action)

    def add_host_group(self, path: str) -> Record:
        return self.state.add("hostGroup", {"Name": path, "Path": path})

    def add_host(self, name: str, *, group: str, cluster: str | None = "HVCluster01") -> Record:
        adapters = [
            {"Name": "NIC1", "UsedForManagement": True, "Connected": True, "VirtualNetwork": None},
            {"Name": "NIC2", "UsedForManagement": False, "Connected": True, "VirtualNetwork": None},
            {"Name": "NIC3", "UsedForManagement": False, "Connected": True, "VirtualNetwork": None},
        ]
        record = {
            "Name": name,
            "ComputerName": name.split(".", maxsplit=1)[0],
            "VMHostGroup": group,
            "HostCluster": cluster,
            "MaintenanceHost": False,
            "CommunicationState": "Responding",
            "OverallState": "OK",
            "adapters": adapters,
            "scheme": BALANCED,
        }
        return self.state.add("host", record)

    def add_cloud(self, name: str, groups: list[str], *, description: str = "") -> Record:
        record = {"Name": name, "Description": description, "HostGroups": groups, "LogicalNetworks": [], "capacity": {}}
        return self.state.add("cloud", record)

    def add_vm(
        self, name: str, *, cloud: str, host: str, running: bool, startup: int, minimum: int, maximum: int
    ) -> Record:
        memory = {"Memory": startup, "DynamicMemoryMinimumMB": minimum, "DynamicMemoryMaximumMB": maximum}
        record = {
            "Name": name,
            "VMId": str(uuid.uuid4()).upper(),
            "host": self.state.need("host", host, "host", cmdlet="test")["ID"],
            "cloud": self.state.need("cloud", cloud, "cloud", cmdlet="test")["ID"],
            "VirtualMachineState": "Running" if running else "PowerOff",
            "DynamicMemoryEnabled": True,
            "DynamicMemoryBufferPercentage": 20,
            "MemoryWeight": 5000,
            "resume": None,
            **memory,
        }
        record["wmi"] = _wmi_of(record)
        return self.state.add("vm", record)

    def vm(self, name: str) -> Record:
        return self.state.need("vm", name, "virtual machine", cmdlet="test")

    def host(self, name: str) -> Record:
        return self.state.need("host", name, "host", cmdlet="test")

    @classmethod
    def contoso_west(cls, *, job_polls: int = 1) -> VmmEmulator:
        """The shipped estate's VMM side (reconciler/providers/embedded/estates/contoso-west.yaml): VMM01 over
        three clustered Hyper-V hosts on the Balanced plan, each tenant's cloud without logical networks, and
        the tenants' VMs with VMM's default memory (startup = minimum); FAB-SQL01 is off."""
        vmm = cls("VMM01.contoso.int", job_polls=job_polls)
        vmm.add_host_group("All Hosts")
        vmm.add_host_group("All Hosts\\West")
        for n in (1, 2, 3):
            vmm.add_host(f"HV0{n}.contoso.int", group="All Hosts\\West")
        vmm.add_cloud("AcmeCorp Cloud", ["All Hosts\\West"])
        vmm.add_cloud("Fabrikam Cloud", ["All Hosts\\West"])
        for name, cloud, host, running, startup, maximum in (
            ("VM01", "AcmeCorp Cloud", "HV01.contoso.int", True, 512, 2048),
            ("VM02", "AcmeCorp Cloud", "HV02.contoso.int", True, 1024, 4096),
            ("FAB-WEB01", "Fabrikam Cloud", "HV02.contoso.int", True, 512, 1024),
            ("FAB-SQL01", "Fabrikam Cloud", "HV03.contoso.int", False, 2048, 8192),
        ):
            vmm.add_vm(name, cloud=cloud, host=host, running=running, startup=startup, minimum=startup, maximum=maximum)
        return vmm

    # --- vmm_jobs.ps1, vmm_hosts.ps1 ---------------------------------------------------------------------------

    def _jobs(self, data: dict[str, Any]) -> list[Any]:
        return [self.state.poll(str(i)) for i in data.get("ids") or []]

    def _hosts(self, data: dict[str, Any]) -> list[Any]:
        vmm = self.state
        if data.get("operation") == "read":
            keys = ("ID", "Name", "ComputerName", "VMHostGroup", "HostCluster", "MaintenanceHost", "CommunicationState")
            hosts = [
                {**{k: h[k] for k in keys}, "OverallState": h["OverallState"], "VirtualizationPlatform": "HyperV"}
                for h in vmm.all("host")
                if wanted(data, h["Name"])
            ]
            return [{"hosts": hosts}]
        if data.get("operation") != "maintenance":
            return [unknown(vmm, data)]
        host = vmm.get("host", str(data.get("id")))
        if host is None:
            raise CmdletError(
                f"host '{data.get('id')}' does not exist", cmdlet="Write-Error", category="ObjectNotFound"
            )
        if not data.get("on"):

            def leave() -> None:
                host["MaintenanceHost"] = False
                self.maintenance.append((host["Name"], False))

            return [result(host, [vmm.job(f"Stop maintenance mode on {host['Name']}", leave)])]
        running = [vm for vm in vmm.all("vm") if vm["host"] == host["ID"] and vm["VirtualMachineState"] == "Running"]
        targets = [
            h
            for h in vmm.all("host")
            if h is not host
            and h["HostCluster"]
            and h["HostCluster"] == host["HostCluster"]
            and not h["MaintenanceHost"]
        ]
        if running and not host["HostCluster"]:
            raise CmdletError(f"host '{host['Name']}' is not in a cluster", cmdlet="Write-Error")
        if running and not targets:
            raise CmdletError(
                "No host of the cluster can take the virtual machines.", cmdlet="Disable-SCVMHost", code="10698"
            )

        def enter() -> None:
            for vm in running:  # live migration: the VMs keep running, on another host
                vm["host"] = targets[0]["ID"]
                self.migrations.append((vm["Name"], host["Name"], targets[0]["Name"]))
            host["MaintenanceHost"] = True
            self.maintenance.append((host["Name"], True))

        return [result(host, [vmm.job(f"Start maintenance mode on {host['Name']}", enter)])]

    # --- vmm_vms.ps1 ----------------------------------------------------------------------------------------------

    def _vms(self, data: dict[str, Any]) -> list[Any]:
        vmm = self.state
        op = data.get("operation")
        if op == "read":
            return [{"vms": [self._vm_record(vm) for vm in vmm.all("vm") if wanted(data, vm["Name"])]}]
        vm = vmm.get("vm", str(data.get("id")))
        if vm is None:
            raise CmdletError(
                f"virtual machine '{data.get('id')}' does not exist", cmdlet="Write-Error", category="ObjectNotFound"
            )
        if op == "set_memory":
            return [self._set_memory(vm, data)]
        if op in ("stop", "start"):
            state = "PowerOff" if op == "stop" else "Running"
            verb = "Shut down" if op == "stop" else "Start"
            return [
                result(
                    vm, [vmm.job(f"{verb} virtual machine {vm['Name']}", lambda: vm.update(VirtualMachineState=state))]
                )
            ]
        if op == "refresh":  # Read-SCVirtualMachine: VMM reads the host's settings again
            wmi = vm["wmi"]
            vm.update(
                Memory=wmi["VirtualQuantity"],
                DynamicMemoryMinimumMB=wmi["Reservation"],
                DynamicMemoryMaximumMB=wmi["Limit"],
            )
            return [result(vm, [])]
        if op == "mark":
            vm["resume"] = str(data.get("resume") or "") or None
            return [result(vm, [])]
        return [unknown(vmm, data)]

    def _vm_record(self, vm: Record) -> Record:
        keys = (
            "ID",
            "VMId",
            "Name",
            "Memory",
            "DynamicMemoryEnabled",
            "DynamicMemoryMinimumMB",
            "DynamicMemoryMaximumMB",
        )
        return {
            **{k: vm[k] for k in keys},
            "DynamicMemoryBufferPercentage": vm["DynamicMemoryBufferPercentage"],
            "MemoryWeight": vm["MemoryWeight"],
            "VirtualMachineState": vm["VirtualMachineState"],
            "VMHost": self.state.name("host", vm["host"]),
            "Cloud": self.state.name("cloud", vm["cloud"]),
            "Resume": vm["resume"],
        }

    def _set_memory(self, vm: Record, data: dict[str, Any]) -> Record:
        cmdlet = "Set-SCVirtualMachine"
        new = dict(vm)
        for key, field in (
            ("dynamic", "DynamicMemoryEnabled"),
            ("startupMB", "Memory"),
            ("minimumMB", "DynamicMemoryMinimumMB"),
            ("maximumMB", "DynamicMemoryMaximumMB"),
            ("bufferPercent", "DynamicMemoryBufferPercentage"),
            ("weight", "MemoryWeight"),
        ):
            if key in data:
                new[field] = data[key]
        if new["DynamicMemoryEnabled"] and "startupMB" in data and new["Memory"] > new["DynamicMemoryMinimumMB"]:
            new["DynamicMemoryMinimumMB"] = new["Memory"]  # VMM sets VirtualQuantity and Reservation equal
        if vm["VirtualMachineState"] == "Running":
            why = _needs_off(vm, new)
            if why:
                raise CmdletError(f"The virtual machine '{vm['Name']}' is running: {why}.", cmdlet=cmdlet)
        if new["DynamicMemoryEnabled"] and not (
            new["DynamicMemoryMinimumMB"] <= new["Memory"] <= new["DynamicMemoryMaximumMB"]
        ):
            raise CmdletError(
                "Startup memory must lie between minimum and maximum memory.", cmdlet=cmdlet, code="23801"
            )

        def change() -> None:
            vm.update(new)
            vm["wmi"] = _wmi_of(vm)

        return result(vm, [self.state.job(f"Change properties of virtual machine {vm['Name']}", change)])

    # --- on a Hyper-V host: hyperv_memory.ps1, host_power.ps1 ------------------------------------------------------

    def _wmi_memory(self, host: Record, data: dict[str, Any]) -> list[Any]:
        vm = next((v for v in self.state.all("vm") if v["VMId"] == data.get("vmId") and v["host"] == host["ID"]), None)
        if vm is None:
            raise CmdletError(
                f"no VM with ID {data.get('vmId')} on this host", cmdlet="Write-Error", category="ObjectNotFound"
            )
        wmi = vm["wmi"]
        if data.get("operation") == "set":
            new = {"VirtualQuantity": data["startupMB"], "Reservation": data["minimumMB"], "Limit": data["maximumMB"]}
            if vm["VirtualMachineState"] == "Running" and new["VirtualQuantity"] != wmi["VirtualQuantity"]:
                raise CmdletError(
                    "ModifyResourceSettings returned 32775", cmdlet="Write-Error", category="InvalidResult"
                )
            if not new["Reservation"] <= new["VirtualQuantity"] <= new["Limit"]:
                raise CmdletError(
                    "ModifyResourceSettings returned 32773", cmdlet="Write-Error", category="InvalidResult"
                )
            wmi.update(new, DynamicMemoryEnabled=True)
        elif data.get("operation") != "read":
            raise CmdletError("unknown operation", cmdlet="Write-Error", category="InvalidArgument")
        return [{"VMId": vm["VMId"], **wmi}]

    def _power(self, host: Record, data: dict[str, Any]) -> list[Any]:
        if data.get("operation") == "set":
            scheme = str(data.get("scheme") or "").casefold()
            try:
                uuid.UUID(scheme)
            except ValueError:
                raise CmdletError(
                    'Exception calling "Parse" with "1" argument(s): "Unrecognized Guid format."',
                    cmdlet="Write-Error",
                    category="NotSpecified",
                    code="FormatException",
                ) from None
            if scheme not in SCHEMES:
                raise CmdletError(f"powercfg /setactive {scheme} failed (1): Invalid Parameters", cmdlet="Write-Error")
            host["scheme"] = scheme
        elif data.get("operation") != "read":
            raise CmdletError("unknown operation", cmdlet="Write-Error", category="InvalidArgument")
        scheme = str(host["scheme"])
        return [
            {"ComputerName": str(host["ComputerName"]).upper(), "ActiveScheme": scheme, "SchemeName": SCHEMES[scheme]}
        ]


def _wmi_of(vm: Record) -> Record:
    """The host's Msvm_MemorySettingData of a VM as VMM last wrote it."""
    return {
        "DynamicMemoryEnabled": bool(vm["DynamicMemoryEnabled"]),
        "VirtualQuantity": vm["Memory"],
        "Reservation": vm["DynamicMemoryMinimumMB"] if vm["DynamicMemoryEnabled"] else vm["Memory"],
        "Limit": vm["DynamicMemoryMaximumMB"] if vm["DynamicMemoryEnabled"] else vm["Memory"],
    }


def _needs_off(old: Record, new: Record) -> str:
    """Hyper-V's rules for a running VM."""
    if old["DynamicMemoryEnabled"] != new["DynamicMemoryEnabled"]:
        return "dynamic memory cannot be turned on or off"
    if old["Memory"] != new["Memory"]:
        return "startup memory cannot change"
    if new["DynamicMemoryMinimumMB"] > old["DynamicMemoryMinimumMB"]:
        return "minimum memory cannot be raised"
    if new["DynamicMemoryMaximumMB"] < old["DynamicMemoryMaximumMB"]:
        return "maximum memory cannot be lowered"
    return ""
