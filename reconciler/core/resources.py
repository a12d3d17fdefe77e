"""Desired resources (what the specs say), observed objects (what a provider read), and the policy knobs
the engine applies to each."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.addresses import Address


class Mode(enum.StrEnum):
    ENFORCE = "enforce"
    OBSERVE = "observe"


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """When disruptive changes may run without ``--allow-disruption``: weekdays (Mon..Sun), a local
    start time, a duration, an IANA time zone."""

    days: tuple[str, ...]
    start: str  # HH:MM
    duration_s: int
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Rollout:
    """Disruptive changes of one group (a power profile's hosts) run at most ``max_unavailable`` at
    once, and the first failure stops the group."""

    group: str
    max_unavailable: int = 1
    window: MaintenanceWindow | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """How the engine may treat one resource (from the spec's ``lifecycle`` and the kind)."""

    protect: bool = False
    prune: bool = False
    ignore_fields: tuple[str, ...] = ()
    mode: Mode = Mode.ENFORCE
    creatable: bool = True  # False for tenant VMs and hosts: configured, never created or deleted
    adopt: bool = False  # an existing object without the tool's marker is taken over (marked), not left alone
    rollout: Rollout | None = None


class SourceText:
    """``file:line:column`` of a spec item, worked out the first time it is shown: a large estate has tens
    of thousands of resources, and a message names only a few (their documents' positions may even have
    to be re-read, see ``spec/yamlsource.SourceDocument.detach``)."""

    __slots__ = ("_make", "_text")

    def __init__(self, make: Callable[[], str]) -> None:
        self._make: Callable[[], str] | None = make
        self._text = ""

    def __str__(self) -> str:
        if self._make is not None:
            self._text, self._make = self._make(), None
        return self._text

    def __repr__(self) -> str:
        return repr(str(self))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str | SourceText) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


@dataclass(frozen=True, slots=True)
class Resource:
    """One object the specs want, in the normalized shape providers read back.

    ``desired`` holds only the fields the spec manages; anything else on the live object is left alone.
    ``depends_on`` lists addresses that must exist (and be converged) before this one is created."""

    address: Address
    desired: dict[str, Any]
    depends_on: tuple[Address, ...] = ()
    site: str = ""
    tenant: str | None = None
    policy: Policy = field(default_factory=Policy)
    source: str | SourceText = ""  # file:line:column of the spec item, for messages

    @property
    def kind(self) -> str:
        return self.address.kind


@dataclass(frozen=True, slots=True)
class Observed:
    """A live object, normalized to the same shape as ``Resource.desired`` whatever backend read it.

    ``status`` carries read-only facts the planner needs (a VM's power state, a host's pending BIOS
    settings); ``owned`` is the ownership marker (tag, description, custom property)."""

    address: Address
    data: dict[str, Any]
    status: dict[str, Any] = field(default_factory=dict)
    owned: bool = False
    version: str = ""  # an etag or digest: a saved plan is stale when it changes
