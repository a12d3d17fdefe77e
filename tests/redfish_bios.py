"""The BIOS of one emulated server, as its BMC shows it over Redfish (used by tests/redfish_emulator.py).

Two flavours, modelled on what the vendors document:

- Dell iDRAC (system ``System.Embedded.1``): ``/Bios`` (current attributes), ``/Bios/Settings`` (pending
  attributes only), ``/Bios/BiosRegistry`` (valid values). A PATCH of the settings with
  ``@Redfish.SettingsApplyTime: {"ApplyTime": "OnReset"}`` stages the values and schedules a BIOS
  configuration job (``JID_...``) that runs at the next reset: Scheduled -> Running -> Completed, and only
  then do the attributes change. While a job is scheduled, another PATCH is refused (iDRAC's SYS011);
  deleting the job drops the pending values. ``ProcCStates``/``ProcC1E`` are writable only under the
  ``Custom`` system profile, as on iDRAC.
- HPE iLO (system ``1``): the settings resource holds every attribute with the pending changes merged in;
  a PATCH answers 200 with iLO's ``SystemResetRequired`` message, and the values apply at the next reset.
  The registry is found through ``/redfish/v1/Registries``.

A reset starts a boot that lasts ``boot_polls`` reads of the server's resources (then the job completes and
the pending values apply), so a client's polling sees Running without anyone sleeping. ``fail_jobs`` makes
jobs end Failed with the values left unapplied.
"""

from __future__ import annotations

import copy
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from reconciler.spec.bios import VENDOR_ATTRIBUTES
from reconciler.spec.models.site import Vendor

JSON = dict[str, Any]
BASE = "Base.1.12"


class RedfishError(Exception):
    """An error answer: HTTP status and a Redfish error body."""

    def __init__(self, status: int, message_id: str, message: str, *, args: tuple[str, ...] = (), prop: str = ""):
        super().__init__(message)
        self.status = status
        extended: JSON = {"MessageId": message_id, "Message": message, "MessageArgs": list(args), "Severity": "Warning"}
        if prop:
            extended["RelatedProperties"] = [f"#/Attributes/{prop}"]
        self.body: JSON = {
            "error": {
                "code": f"{BASE}.GeneralError",
                "message": "A general error has occurred. See ExtendedInfo for more information",
                "@Message.ExtendedInfo": [extended],
            }
        }


@dataclass(frozen=True)
class Attribute:
    name: str
    kind: str  # Enumeration, String, Integer
    default: str | int
    values: tuple[str, ...] = ()
    read_only: bool = False
    custom_only: bool = False  # writable only under SysProfile=Custom (Dell)


def _dell_attributes() -> tuple[Attribute, ...]:
    enabled = ("Enabled", "Disabled")
    return (
        Attribute(
            "SysProfile",
            "Enumeration",
            "PerfPerWattOptimizedDapc",
            tuple(sorted(VENDOR_ATTRIBUTES[Vendor.DELL]["SysProfile"])),
        ),
        Attribute("ProcCStates", "Enumeration", "Enabled", enabled, custom_only=True),
        Attribute("ProcC1E", "Enumeration", "Enabled", enabled, custom_only=True),
        Attribute("ProcTurboMode", "Enumeration", "Enabled", enabled),
        Attribute("LogicalProc", "Enumeration", "Enabled", enabled),
        Attribute("BootMode", "Enumeration", "Uefi", ("Bios", "Uefi")),
        Attribute("SystemModelName", "String", "PowerEdge R740", read_only=True),
    )


def _hpe_attributes() -> tuple[Attribute, ...]:
    hpe = VENDOR_ATTRIBUTES[Vendor.HPE]
    return (
        Attribute(
            "WorkloadProfile", "Enumeration", "GeneralPowerEfficientCompute", tuple(sorted(hpe["WorkloadProfile"]))
        ),
        Attribute("PowerRegulator", "Enumeration", "DynamicPowerSavings", tuple(sorted(hpe["PowerRegulator"]))),
        Attribute("ProcTurbo", "Enumeration", "Enabled", ("Enabled", "Disabled")),
        Attribute("MinProcIdlePower", "Enumeration", "C6", ("C6", "C1E", "NoCStates")),
        Attribute("BootMode", "Enumeration", "Uefi", ("LegacyBios", "Uefi")),
    )


@dataclass
class Job:
    id: str
    state: str = "Scheduled"
    message: str = "Task successfully scheduled."
    percent: int = 0


@dataclass
class BiosModel:
    vendor: str  # dell | hpe
    system_id: str
    boot_polls: int = 1
    fail_jobs: bool = False
    attributes: dict[str, str | int] = field(default_factory=dict)
    pending: dict[str, str | int] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    resets: int = 0
    _registry: tuple[Attribute, ...] = ()
    _boot_left: int | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self._registry = _dell_attributes() if self.vendor == "dell" else _hpe_attributes()
        defaults = {a.name: a.default for a in self._registry}
        self.attributes = {**defaults, **self.attributes}

    # ---------------------------------------------------------------------------------------- paths

    @property
    def system_path(self) -> str:
        return f"/redfish/v1/Systems/{self.system_id}"

    @property
    def bios_path(self) -> str:
        return f"{self.system_path}/Bios"

    @property
    def registry_id(self) -> str:
        return "BiosAttributeRegistry.v1_0_3" if self.vendor == "dell" else "BiosAttributeRegistryU32.v1_2_68"

    @property
    def registry_path(self) -> str:
        if self.vendor == "dell":
            return f"{self.bios_path}/BiosRegistry"
        return f"/redfish/v1/RegistryStore/registries/en/{self.registry_id}"

    @property
    def jobs_path(self) -> str:
        return "/redfish/v1/Managers/iDRAC.Embedded.1/Oem/Dell/Jobs"

    # ---------------------------------------------------------------------------------------- views

    def bios(self) -> JSON:
        with self._lock:
            return {
                "@odata.id": self.bios_path,
                "@odata.type": "#Bios.v1_1_0.Bios",
                "Id": "Bios",
                "Name": "BIOS Configuration Current Settings",
                "AttributeRegistry": self.registry_id,
                "Attributes": dict(self.attributes),
                "@Redfish.Settings": {
                    "@odata.type": "#Settings.v1_3_1.Settings",
                    "SettingsObject": {"@odata.id": f"{self.bios_path}/Settings"},
                    "SupportedApplyTimes": ["OnReset", "AtMaintenanceWindowStart", "InMaintenanceWindowOnReset"],
                },
                "Actions": {"#Bios.ResetBios": {"target": f"{self.bios_path}/Actions/Bios.ResetBios"}},
            }

    def settings(self) -> JSON:
        with self._lock:
            shown = dict(self.pending) if self.vendor == "dell" else {**self.attributes, **self.pending}
            return {
                "@odata.id": f"{self.bios_path}/Settings",
                "@odata.type": "#Bios.v1_1_0.Bios",
                "Id": "Settings",
                "Name": "BIOS Configuration Pending Settings",
                "Attributes": shown,
            }

    def registry(self) -> JSON:
        entries: list[JSON] = []
        for a in self._registry:
            entry: JSON = {
                "AttributeName": a.name,
                "DisplayName": a.name,
                "Type": a.kind,
                "ReadOnly": a.read_only,
                "DefaultValue": a.default,
            }
            if a.values:
                entry["Value"] = [{"ValueName": v, "ValueDisplayName": v} for v in a.values]
            entries.append(entry)
        return {
            "@odata.id": self.registry_path,
            "@odata.type": "#AttributeRegistry.v1_1_0.AttributeRegistry",
            "Id": self.registry_id,
            "Name": "BIOS Attribute Registry",
            "Language": "en",
            "OwningEntity": "Dell" if self.vendor == "dell" else "HPE",
            "RegistryVersion": self.registry_id.rsplit(".", 1)[-1],
            "RegistryEntries": {"Attributes": entries},
        }

    def job(self, job_id: str) -> JSON:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise RedfishError(404, f"{BASE}.ResourceNotFound", f"The requested resource {job_id} was not found.")
            return {
                "@odata.id": f"{self.jobs_path}/{job.id}",
                "@odata.type": "#DellJob.v1_4_0.DellJob",
                "Id": job.id,
                "Name": "Configure: BIOS.Setup.1-1",
                "JobType": "BIOSConfiguration",
                "JobState": job.state,
                "Message": job.message,
                "PercentComplete": job.percent,
                "TargetSettingsURI": None,
            }

    def job_collection(self) -> JSON:
        with self._lock:
            members = [{"@odata.id": f"{self.jobs_path}/{j}"} for j in self.jobs]
        return {"@odata.id": self.jobs_path, "Members": members, "Members@odata.count": len(members)}

    # ---------------------------------------------------------------------------------------- changes

    def patch_settings(self, body: JSON) -> tuple[int, JSON, dict[str, str]]:
        """Stage attributes; (status, body, headers). Refused as a whole when any attribute is wrong."""
        wanted = body.get("Attributes")
        if not isinstance(wanted, dict) or not wanted:
            raise RedfishError(400, f"{BASE}.PropertyMissing", "The property Attributes is a required property.")
        with self._lock:
            if self.vendor == "dell" and any(j.state in ("Scheduled", "Running") for j in self.jobs.values()):
                raise RedfishError(
                    400,
                    "IDRAC.2.8.SYS011",
                    "Pending configuration values are already committed, unable to perform another set operation.",
                )
            by_name = {a.name: a for a in self._registry}
            profile = wanted.get("SysProfile", self.pending.get("SysProfile", self.attributes.get("SysProfile")))
            for name, value in wanted.items():
                self._check(by_name.get(name), name, value, profile)
            self.pending.update(wanted)
            apply_time = (body.get("@Redfish.SettingsApplyTime") or {}).get("ApplyTime")
            if self.vendor == "hpe":
                reset = {"MessageId": "iLO.2.15.SystemResetRequired", "Message": "A system reset is required."}
                return 200, {"error": {"code": "iLO.0.10.ExtendedInfo", "@Message.ExtendedInfo": [reset]}}, {}
            if apply_time != "OnReset":
                # iDRAC stages the values; nothing applies them until a job is created.
                return 200, {"@Message.ExtendedInfo": [{"MessageId": f"{BASE}.Success"}]}, {}
            job = Job(id=f"JID_{secrets.randbelow(10**12):012d}")
            self.jobs[job.id] = job
            return 202, {}, {"Location": f"{self.jobs_path}/{job.id}"}

    def _check(self, attribute: Attribute | None, name: str, value: object, profile: object) -> None:
        if attribute is None:
            raise RedfishError(
                400,
                f"{BASE}.PropertyUnknown",
                f"The property {name} is not in the list of valid properties for the resource.",
                args=(name,),
                prop=name,
            )
        if attribute.read_only or (attribute.custom_only and profile != "Custom"):
            raise RedfishError(
                400,
                f"{BASE}.PropertyNotWritable",
                f"The property {name} is a read only property and cannot be assigned a value.",
                args=(name,),
                prop=name,
            )
        if attribute.values and value not in attribute.values:
            raise RedfishError(
                400,
                f"{BASE}.PropertyValueNotInList",
                f"The value '{value}' for the property {name} is not in the list of acceptable values.",
                args=(str(value), name),
                prop=name,
            )

    def delete_job(self, job_id: str) -> None:
        """Cancel a scheduled job: iDRAC drops the values it would have applied."""
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise RedfishError(404, f"{BASE}.ResourceNotFound", f"The requested resource {job_id} was not found.")
            if job.state == "Scheduled":
                self.pending.clear()
            del self.jobs[job_id]

    def reset_bios(self) -> None:
        with self._lock:
            self.pending = {a.name: a.default for a in self._registry if not a.read_only}

    def on_reset(self) -> None:
        """The server restarts: scheduled jobs start running, and the boot applies the pending values."""
        with self._lock:
            self.resets += 1
            for job in self.jobs.values():
                if job.state == "Scheduled":
                    job.state, job.message, job.percent = "Running", "Task successfully scheduled.", 10
            self._boot_left = self.boot_polls
            if self.boot_polls == 0:
                self._finish_boot()

    def poll(self) -> None:
        """A read of the server's resources: a boot in progress moves on by one step."""
        with self._lock:
            if self._boot_left is None:
                return
            if self._boot_left > 0:
                self._boot_left -= 1
                return
            self._finish_boot()

    def _finish_boot(self) -> None:
        self._boot_left = None
        running = [j for j in self.jobs.values() if j.state == "Running"]
        if self.vendor == "dell" and not running:
            return  # without a job iDRAC applies nothing at boot
        if self.fail_jobs:
            for job in running:
                job.state, job.message, job.percent = "Failed", "SYS051: Unable to apply the BIOS settings.", 100
            self.pending.clear()
            return
        self.attributes.update(copy.deepcopy(self.pending))
        self.pending.clear()
        for job in running:
            job.state, job.message, job.percent = "Completed", "Job completed successfully.", 100
