"""The BMC seam: what the BIOS rollout needs from a server's management controller, whatever protocol
reaches it, and the values that cross it.

``BmcBackend`` is a small protocol: read the BIOS (current and pending attributes), read the attribute
registry (valid values), stage attributes to apply at the next reset, follow the job that applies them,
reset the server, and discard staged values. ``redfish_backend.RedfishBmc`` implements it over Redfish
(Dell iDRAC 7 and later, HPE iLO 4 and later, any DMTF-conformant BMC). An 11th-generation Dell (iDRAC6)
has no Redfish: a WS-Man backend (``DCIM_BIOSService.SetAttributes`` then ``CreateTargetedConfigJob``,
``DCIM_LifecycleJob`` for the job, ``DCIM_ComputerSystem.RequestStateChange`` for the reset) or a racadm
one (``racadm set BIOS.SysProfileSettings.SysProfile ...``, ``jobqueue create BIOS.Setup.1-1``,
``serveraction powercycle``) would implement the same six methods; nothing above this seam changes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

AttributeValue = str | int | bool


class JobState(enum.StrEnum):
    """A configuration job's state, normalised from the vendor's (Dell JobState, Redfish TaskState)."""

    SCHEDULED = "scheduled"  # waits for the next reset
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    OTHER = "other"

    @property
    def finished(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED)


class ResetType(enum.StrEnum):
    GRACEFUL_RESTART = "GracefulRestart"  # the OS shuts down first (the host is in maintenance mode)
    FORCE_RESTART = "ForceRestart"
    ON = "On"


@dataclass(frozen=True)
class SystemInfo:
    id: str
    name: str  # the host name the BMC reports (may be empty)
    manufacturer: str
    model: str
    power_state: str  # On, Off, PoweringOn, PoweringOff


@dataclass(frozen=True)
class BiosState:
    attributes: Mapping[str, AttributeValue]  # in force now
    pending: Mapping[str, AttributeValue]  # staged, applied at the next reset
    registry_id: str = ""


@dataclass(frozen=True)
class AttributeSpec:
    name: str
    kind: str  # Enumeration, String, Integer, Boolean, Password
    values: tuple[str, ...] = ()  # an enumeration's allowed values
    read_only: bool = False
    lower: int | None = None
    upper: int | None = None


@dataclass(frozen=True)
class Registry:
    id: str
    attributes: Mapping[str, AttributeSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    id: str
    state: JobState
    percent: int | None = None
    message: str = ""


@dataclass(frozen=True)
class Staged:
    """What staging left: the job that applies the values at the next reset (None where the BMC needs none,
    e.g. HPE iLO, which applies pending settings at every boot)."""

    job_id: str | None
    attributes: Mapping[str, AttributeValue]


class BmcBackend(Protocol):
    """One server's BMC. Methods raise the engine's errors (reconciler.core.errors), never a library's."""

    name: str  # the host this BMC manages, for messages

    def system(self) -> SystemInfo: ...

    def read_bios(self) -> BiosState: ...

    def registry(self) -> Registry: ...

    def stage(self, attributes: Mapping[str, AttributeValue]) -> Staged: ...

    def job(self, job_id: str) -> Job: ...

    def discard_pending(self) -> None: ...

    def reset(self, kind: ResetType = ResetType.GRACEFUL_RESTART) -> None: ...

    def close(self) -> None: ...
