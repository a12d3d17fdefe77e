"""A host reboot for settings that apply at reset (BIOS through the BMC): enter maintenance with the VMs
moved off, stage the settings, reset, confirm the host is back and the settings took, leave maintenance.

Guarantees, whatever the backends (``providers.hosts``):
- settings the BMC would refuse (``Firmware.check``: its attribute registry) never take a host out of service;
- every step is journaled before it is taken (``core.procedures``), so a killed run is found by the next;
- a host leaves maintenance only after its restart is confirmed: a failed poll or a timeout leaves it in
  maintenance, fails the step (permanently: a retry must not read the half-done host as converged) and so
  stops the rollout; the next apply confirms and finishes it;
- a failure before the reset unwinds: the host leaves the maintenance this procedure put it in;
- a procedure an earlier run left before its reset is finished when the change may disrupt, and unwound
  otherwise (leaving maintenance is never held); one left after its reset is confirmed and finished;
- a host an operator put in maintenance stays there."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.core.changes import ActionReason, ResourceChange
from reconciler.core.errors import PermanentError, ReconcilerError
from reconciler.core.procedures import Outcome, ProcedureRecord, Step
from reconciler.core.resources import Resource
from reconciler.engine.journal import Journal
from reconciler.providers import hosts
from reconciler.providers.base import Progress
from reconciler.providers.routing import Router

NAME = "host-reboot"


@dataclass(frozen=True)
class Held:
    """The change was not made (it may not disrupt now); ``message`` says what was unwound, if anything."""

    message: str


@dataclass
class HostReboot:
    router: Router
    journal: Journal
    run_id: str
    clock: Callable[[], str]  # ISO 8601 timestamps for the journal
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic

    def run(self, change: ResourceChange, resource: Resource, *, allowed: bool, progress: Progress) -> Held | None:
        """Carry out ``change`` (a BIOS change) on its host; None when done, ``Held`` when it may not disrupt
        now (after unwinding what an earlier run left before its reset). Safe to call from several threads:
        each call works on its own host."""
        host = hosts.host_of(resource)
        at = _Host(_manager(self.router, host), _firmware(self.router, resource), host, resource, progress)
        earlier = self.journal.unfinished([resource.address])
        record = earlier[-1] if earlier else None
        if record is not None:
            progress(f"an earlier run left this unfinished: {record.note()}")
        elif not allowed:
            return Held("")
        else:
            record = self._begin(change, resource)
        record = self._rewind(record, change, at)
        if record.step.rank < Step.RESTARTING.rank:
            if not allowed:
                return Held(self._unwind(record, at, why="the change is held"))
            record = self._before_reset(record, change, at)
        record = self._confirm(record, at)
        if record.ours:
            record = self._write(record, Step.LEAVING)
            at.manager.exit_maintenance(host, progress)
        self._close(record, Outcome.DONE)
        return None

    # --- the steps --------------------------------------------------------------------------------------

    def _begin(self, change: ResourceChange, resource: Resource) -> ProcedureRecord:
        rollout = resource.policy.rollout
        now = self.clock()
        record = ProcedureRecord(
            id=uuid.uuid4().hex,
            run_id=self.run_id,
            procedure=NAME,
            address=change.address,
            host=hosts.host_of(resource).address,
            group=rollout.group if rollout is not None else "",
            step=Step.STARTED,
            outcome=Outcome.OPEN,
            ours=False,
            started_at=now,
            updated_at=now,
        )
        self.journal.write(record)
        return record

    def _before_reset(self, record: ProcedureRecord, change: ResourceChange, at: _Host) -> ProcedureRecord:
        """Maintenance, staging and the reset. A failure before the reset is requested unwinds."""
        try:
            if change.action_reason is not ActionReason.RESUME:
                at.firmware.check(change, at.resource)  # settings the BMC would refuse never take a host out
            record = self._enter(record, at)
            if change.action_reason is ActionReason.RESUME:
                return record  # the settings are in: only the return from maintenance is left (never a reboot)
            at.firmware.stage(change, at.resource, at.progress)
            record = self._write(record, Step.STAGED)
        except PermanentError as exc:
            unwound = self._unwind(record, at, why=str(exc))
            raise PermanentError(f"{exc}; {unwound}" if unwound else str(exc), code=exc.code) from exc
        # A temporary error propagates as it is: the step's retry re-reads, finds this record open, resumes.
        record = self._write(record, Step.RESTARTING)
        try:
            at.firmware.restart(at.resource, at.progress)
        except PermanentError as exc:  # the reset may have happened: stay in maintenance, look again next run
            self._write(record, Step.RESTARTING, detail=f"reset failed: {exc}")
            raise PermanentError(f"{exc}; {_stays(record)}", code=exc.code) from exc
        return self._write(record, Step.RESTARTED)

    def _rewind(self, record: ProcedureRecord, change: ResourceChange, at: _Host) -> ProcedureRecord:
        """An earlier run's record, checked against the host: a reset it announced that never happened (the
        host answers, the settings still pending) goes back to staged; a reset after which the settings are
        neither in nor pending (the BMC dropped them) goes back to in-maintenance, to stage them again."""
        if record.step not in (Step.RESTARTING, Step.RESTARTED) or change.action_reason is ActionReason.RESUME:
            return record
        try:
            back = hosts.responding(at.manager.read_one(at.host))
            staged = hosts.pending(at.firmware.read_one(at.resource))
        except ReconcilerError:
            return record  # cannot tell: confirm the reset as it stands
        if back and staged and record.step is Step.RESTARTING:
            return self._write(record, Step.STAGED, detail="the reset did not happen")
        if back and not staged:
            return self._write(record, Step.IN_MAINTENANCE, detail="the settings did not take: staging them again")
        return record

    def _enter(self, record: ProcedureRecord, at: _Host) -> ProcedureRecord:
        there = hosts.in_maintenance(at.manager.read_one(at.host))
        if there:
            # Ours only if this procedure announced it: a host an operator put in maintenance stays there.
            ours = record.ours or record.step is Step.ENTERING
            return self._write(record, Step.IN_MAINTENANCE, ours=ours)
        record = self._write(record, Step.ENTERING, ours=True)
        at.manager.enter_maintenance(at.host, at.progress)
        return self._write(record, Step.IN_MAINTENANCE)

    def _confirm(self, record: ProcedureRecord, at: _Host) -> ProcedureRecord:
        """Wait until the host answers its manager and the BMC shows the settings applied. Any failed poll or
        the timeout: the host stays in maintenance and the step fails."""
        host = at.host
        wanted = dict(at.resource.desired.get("attributes") or {})
        timeout = at.manager.restart_timeout_s
        deadline = self.monotonic() + timeout
        polls = 0
        while True:
            polls += 1
            try:
                back = hosts.responding(at.manager.read_one(host))
                bios = at.firmware.read_one(at.resource)
            except ReconcilerError as exc:
                self._write(record, record.step, detail=f"confirming the restart failed: {exc}")
                raise PermanentError(
                    f"confirming the restart of {host.address.name} failed ({exc}); {_stays(record)}"
                ) from exc
            current = dict((bios.data.get("attributes") or {}) if bios is not None else {})
            took = all(str(current.get(k)) == str(v) for k, v in wanted.items()) and not hosts.pending(bios)
            if back and took:
                at.progress(f"host restart: confirmed ({polls} polls)")
                return self._write(record, Step.CONFIRMED)
            if back and not took and not hosts.pending(bios) and record.step is Step.RESTARTED:
                # Back, nothing pending, and not the wanted values: the BMC dropped the staged settings.
                self._write(record, record.step, detail="the host came back without the new settings")
                raise PermanentError(
                    f"{host.address.name} came back from its reset without the new settings and nothing is "
                    f"pending on its BMC; {_stays(record)} (apply stages them again)"
                )
            at.progress(f"host restart: waiting ({'settings pending' if back else 'host not responding'})")
            if self.monotonic() >= deadline:
                self._write(record, record.step, detail="the restart was not confirmed in time")
                raise PermanentError(
                    f"host restart on {host.address} did not finish within {timeout:g}s; {_stays(record)}",
                    code="JobTimeout",
                )
            self.sleep(at.manager.poll_interval_s)

    def _unwind(self, record: ProcedureRecord, at: _Host, *, why: str) -> str:
        """Give up before the reset: leave the maintenance this procedure entered. Returns what was done."""
        if not record.ours:
            self._close(record, Outcome.FAILED_SAFE if record.step.rank < Step.STAGED.rank else Outcome.UNWOUND)
            return ""
        host = at.host
        try:
            there = hosts.in_maintenance(at.manager.read_one(host))
            if there:
                self._write(record, Step.LEAVING, detail=why)
                at.manager.exit_maintenance(host, at.progress)
        except ReconcilerError as exc:
            self._write(record, record.step, detail=f"leaving maintenance failed: {exc}")
            return f"leaving maintenance failed ({exc}): {host.address.name} stays in maintenance; run apply again"
        self._close(record, Outcome.UNWOUND)
        if not there:
            return ""
        staged = " (staged settings wait on the BMC for the next reset)" if record.step.rank >= Step.STAGED.rank else ""
        return f"{host.address.name} left maintenance{staged}"

    # --- the journal ------------------------------------------------------------------------------------

    def _write(
        self, record: ProcedureRecord, step: Step, *, ours: bool | None = None, detail: str | None = None
    ) -> ProcedureRecord:
        updated = record.at(step, updated_at=self.clock(), ours=ours, detail=detail)
        self.journal.write(updated)
        return updated

    def _close(self, record: ProcedureRecord, outcome: Outcome) -> None:
        self.journal.write(dataclasses.replace(record, outcome=outcome, updated_at=self.clock()))


@dataclass(frozen=True)
class _Host:
    """What one call works with: the host's manager and BMC, the host, the change's resource, its progress."""

    manager: hosts.HostManager
    firmware: hosts.Firmware
    host: Resource
    resource: Resource
    progress: Progress


def _stays(record: ProcedureRecord) -> str:
    return f"{record.host.name} stays in maintenance: run apply again to confirm and finish"


def _manager(router: Router, host: Resource) -> hosts.HostManager:
    provider = router.provider(host)
    if not isinstance(provider, hosts.HostManager):
        raise PermanentError(f"{provider.name} cannot put {host.address.name} in maintenance mode", code="NoBackend")
    return provider


def _firmware(router: Router, resource: Resource) -> hosts.Firmware:
    provider = router.provider(resource)
    if not isinstance(provider, hosts.Firmware):
        raise PermanentError(f"{provider.name} cannot stage settings on {resource.address}", code="NoBackend")
    return provider
