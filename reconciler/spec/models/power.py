"""``kind: PowerProfile``: BIOS power profile and hypervisor power policy for a set of hosts, with the
CPU-ready threshold drift reports alert on and how a rollout may take hosts down.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import Field

from reconciler.spec.models.common import ApiVersion, DurationSeconds, HostName, Managed, Metadata, SpecModel


class BiosProfile(enum.StrEnum):
    """Vendor-neutral BIOS power profiles (mapped per vendor in ``spec.bios``)."""

    MAXIMUM_PERFORMANCE = "MaximumPerformance"
    OS_CONTROLLED = "OsControlled"
    POWER_SAVING = "PowerSaving"
    DENSE_CONFIGURATION = "DenseConfiguration"


BiosValue = str | int | bool


class Bios(Managed):
    profile: BiosProfile | None = Field(None, description="a vendor-neutral profile, mapped to Dell or HPE values")
    attributes: dict[str, BiosValue] | None = Field(
        None, description="explicit vendor BIOS attributes, e.g. {SysProfile: PerfOptimized}"
    )


class WindowsPowerPlan(enum.StrEnum):
    HIGH_PERFORMANCE = "HighPerformance"
    BALANCED = "Balanced"
    POWER_SAVER = "PowerSaver"


class VSpherePolicy(enum.StrEnum):
    STATIC = "static"
    DYNAMIC = "dynamic"
    LOW = "low"
    CUSTOM = "custom"


class Hypervisor(Managed):
    power_plan: WindowsPowerPlan | None = Field(None, description="Windows power plan for Hyper-V hosts")
    policy: VSpherePolicy | None = Field(None, description="vSphere host power policy (static = High performance)")


Day = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


class MaintenanceWindow(SpecModel):
    days: tuple[Day, ...] = Field(min_length=1)
    start: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, quoted in YAML")]
    duration: DurationSeconds
    timezone: str = Field("UTC", description="an IANA time zone, e.g. Europe/Amsterdam")


class Rollout(SpecModel):
    max_unavailable: int = Field(1, ge=1, description="hosts in maintenance at once")
    maintenance_window: MaintenanceWindow | None = None


class PowerProfileSpec(SpecModel):
    site: str
    hosts: tuple[HostName, ...] | None = Field(None, description="hosts by name (or hostGroup)")
    host_group: str | None = Field(None, description="every host of this host group (or hosts)")
    bios: Bios | None = None
    hypervisor: Hypervisor | None = None
    cpu_ready_alert_percent: float = Field(5.0, gt=0, le=100, description="alert when CPU ready exceeds this percent")
    rollout: Rollout = Rollout()


class PowerProfileDocument(SpecModel):
    api_version: ApiVersion
    kind: Literal["PowerProfile"]
    metadata: Metadata
    spec: PowerProfileSpec
