"""The ``bmc.bios`` kind handler, and the firmware primitives the engine's host procedure drives
(``providers.hosts.Firmware``): check the wanted values against the BMC's own attribute registry, stage them to
apply at the next reset, reset the server.

Reads go to each host's BMC (its read scope is the BMC, so the engine reads BMCs in parallel): the current and
pending attributes (``read_bios``: two GETs on Redfish) and, while a BIOS configuration job is known, that job.
A job this run staged that failed is a permanent error at the next read, naming the BMC's message: the host
procedure polls this read after the reset, and so stops there with the host in maintenance.

Everything goes through the BMC seam (``model.BmcBackend``) and ``bios.py``, never through Redfish directly, so a
backend for BMCs without Redfish (iDRAC6: WS-Man or racadm) serves the same kind."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from reconciler.core import desired as typed
from reconciler.core.addresses import Address
from reconciler.core.changes import ResourceChange
from reconciler.core.errors import PermanentError
from reconciler.core.resources import Observed, Resource
from reconciler.providers.base import Progress, absent_as_none
from reconciler.providers.bmc import bios, normalize
from reconciler.providers.bmc.connections import Bmcs
from reconciler.providers.bmc.context import BmcContext, BmcRef
from reconciler.providers.bmc.model import AttributeValue, BmcBackend, Job, JobState, ResetType

KIND = "bmc.bios"


def wanted(resource: Resource) -> dict[str, AttributeValue]:
    """The attributes the spec wants (``engine.expand`` mapped the profile to the vendor's already)."""
    return dict(typed.of(resource, typed.Bios)["attributes"])


def _show(values: Mapping[str, AttributeValue]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(values.items()))


class BiosHandler:
    kinds = frozenset({KIND})

    def __init__(self, bmcs: Bmcs, context: BmcContext) -> None:
        self.bmcs = bmcs
        self.context = context
        self._jobs: dict[str, str] = {}  # BMC scope -> the job this run staged (until it completed or failed)
        self._lock = threading.Lock()

    def read_scope(self, resource: Resource) -> str:
        return self.context.bmc(resource).scope

    def read(self, resources: Sequence[Resource]) -> Mapping[Address, Observed | None]:
        return {r.address: self.read_one(r) for r in resources}

    def read_one(self, resource: Resource) -> Observed | None:
        ref = self.context.bmc(resource)
        with absent_as_none():
            return self.bmcs.call(ref, lambda bmc: self._observe(resource.address, ref, bmc))
        return None

    def _observe(self, address: Address, ref: BmcRef, bmc: BmcBackend) -> Observed:
        state = bmc.read_bios()
        with self._lock:
            staged = self._jobs.get(ref.scope)
        job: Job | None = None
        if staged is not None:
            job = bmc.job(staged)
            if job.state.finished:
                with self._lock:
                    self._jobs.pop(ref.scope, None)
            if job.state is JobState.FAILED:
                raise PermanentError(
                    f"BMC of {ref.host}: BIOS job {job.id} failed: {job.message or 'no message'} (the settings were "
                    "not applied)",
                    code="JobFailed",
                )
        elif state.pending:
            job_id = getattr(bmc, "pending_job", lambda: None)()  # a Dell job scheduled by an earlier run
            job = bmc.job(job_id) if job_id else None
        return normalize.bios(address, ref.vendor, state, job)

    def apply(self, change: ResourceChange, resource: Resource, progress: Progress) -> Observed | None:
        raise PermanentError(
            f"{resource.address}: BIOS settings apply at a reset, through the engine's host procedure", code="Procedure"
        )

    # --- the firmware primitives (providers.hosts.Firmware) ---------------------------------------------

    def check(self, change: ResourceChange, resource: Resource) -> None:
        """Refuse, before the host is taken out of service, values the BMC's attribute registry would reject
        (the message names each attribute and its valid values)."""
        ref = self.context.bmc(resource)
        state = self.bmcs.call(ref, lambda bmc: bmc.read_bios())
        change_set = bios.differences(state.attributes, wanted(resource))
        if change_set:
            bios.check_against_registry(ref.host, self.bmcs.registry(ref), change_set)

    def stage(self, change: ResourceChange, resource: Resource, progress: Progress) -> None:
        """Stage what differs, to apply at the next reset (Redfish ApplyTime OnReset); values already pending
        are not sent again. Other pending values are refused: they would apply with these."""
        ref = self.context.bmc(resource)
        registry = self.bmcs.registry(ref)
        staged = self.bmcs.call(ref, lambda bmc: bios.stage_changes(bmc, wanted(resource), registry=registry))
        if staged is None:
            progress(f"BMC of {ref.host}: {_show(wanted(resource))} already in force: nothing to stage")
            return
        if staged.job_id is not None:
            with self._lock:
                self._jobs[ref.scope] = staged.job_id
        job = f" (job {staged.job_id})" if staged.job_id else ""
        progress(f"BMC of {ref.host}: staged {_show(staged.attributes)} for the next reset{job}")

    def restart(self, resource: Resource, progress: Progress) -> None:
        """ComputerSystem.Reset (graceful: the host is in maintenance mode, its OS shuts down first)."""
        ref = self.context.bmc(resource)
        self.bmcs.call(ref, lambda bmc: bmc.reset(ResetType.GRACEFUL_RESTART))
        progress(f"BMC of {ref.host}: reset accepted")
