"""What a disaster-recovery drill needs from a backend: the primitives, provider-neutral (the drill itself, part
of the runs layer, composes them: pick the plan, fail over to an isolated network, check the VMs came up, clean
up, record the recovery point it used and how long each step took).

A drill target is a resource the specs declare: a recovery plan (``asr.recovery_plan``: its VMs fail over group
by group) or one protected VM (``asr.protected_item``). Each primitive waits for the backend's job (bounded by the
backend's job timeout, progress reported) and answers what the job ended as; a refused or failed job raises the
engine's errors (``core.errors``) like any other provider call. The network a test failover goes into is named
by the backend's own id for it (:meth:`Drills.network_id`: an ARM id on Azure, the address in the embedded estate).

Implemented by ``providers/azure/drills.py`` and ``providers/embedded/drills.py``; a backend offers them as its
``drills`` attribute (:func:`drills_of`), and ``runs/drill.py`` (``reconciler drill``, docs/drills.md) composes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from reconciler.core.resources import Resource
from reconciler.providers.base import Progress


@dataclass(frozen=True)
class DrillJob:
    """A drill step as the backend ran it: its job (an ASR job name), the state it ended in, its start and end
    (ISO 8601, as the backend reports them), and the job's errors (empty when it succeeded)."""

    job: str
    state: str
    started: str | None = None
    ended: str | None = None
    errors: str = ""


@dataclass(frozen=True)
class RecoveryPoint:
    """The newest point a VM can fail over to: when it was taken and its kind (CrashConsistent,
    ApplicationConsistent), with the replication's own figures (last replicated, RPO) when the backend has them."""

    time: str | None
    kind: str | None
    last_replicated: str | None = None
    rpo_seconds: int | None = None
    age_seconds: float | None = None  # the point's age, from a backend that keeps an age rather than a time


@runtime_checkable
class Drills(Protocol):
    def network_id(self, network: Resource) -> str:
        """The backend's id of a virtual network it serves (an ``azure.virtual_network`` resource), as
        :meth:`test_failover` takes it."""
        ...

    def test_failover(self, target: Resource, *, network_id: str | None, progress: Progress) -> DrillJob:
        """Fail ``target`` over for a test, into the network ``network_id`` (None: no network attached), from the
        latest recovery point; production keeps replicating."""
        ...

    def cleanup(self, target: Resource, *, comments: str, progress: Progress) -> DrillJob:
        """Delete what the test failover of ``target`` made, recording ``comments`` (the drill's verdict)."""
        ...

    def latest_recovery_point(self, item: Resource) -> RecoveryPoint | None:
        """The newest recovery point of a protected VM (None: it has none yet)."""
        ...


def drills_of(provider: Any) -> Drills | None:
    """The drill primitives of a backend: the provider itself, or what it holds as ``drills`` (None: it has
    none)."""
    if isinstance(provider, Drills):
        return provider
    held = getattr(provider, "drills", None)
    return held if isinstance(held, Drills) else None
