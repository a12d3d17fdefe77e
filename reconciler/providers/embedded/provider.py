"""The embedded provider: serves every kind from the estate store, one round trip per bulk read and
per operation, enforcing the real systems' rules (``rules``) and their multi-step procedures (a VM's
power cycle around a memory change; maintenance mode and a reboot around a BIOS change)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reconciler.core import desired as typed
from reconciler.core import kinds
from reconciler.core.addresses import Address
from reconciler.core.changes import Action, ActionReason, ResourceChange
from reconciler.core.errors import PermanentError, TemporaryError
from reconciler.core.resources import Observed, Resource
from reconciler.providers.base import BaseProvider, Progress
from reconciler.providers.discovery import Scope
from reconciler.providers.embedded import reads, rules
from reconciler.providers.embedded.drills import EmbeddedDrills, with_recovery_points
from reconciler.providers.embedded.faults import Faults
from reconciler.providers.embedded.store import EstateStore, Row

_RESTORE_ATTEMPTS = 5


def _marker(resource: Resource) -> dict[str, Any]:
    """The ownership tags the tool writes on what it creates (Azure tags, VMM custom properties)."""
    return {
        "marker": {
            "managedBy": "reconciler",
            "prune": resource.policy.prune,
            "protect": resource.policy.protect,
        }
    }


def observed(row: Row) -> Observed:
    return Observed(address=row.address, data=row.data, status=row.status, owned=row.owned, version=str(row.version))


# CPU ready (percent) a host shows at about half load, by its BIOS power profile: the seed's lesson. Dell
# DBPM (and HPE's dynamic power savings) throttle cores the hypervisor is about to schedule on.
_READY_BY_BIOS = {
    "PerfPerWattOptimizedDapc": 22.0,
    "DynamicPowerSavings": 22.0,
    "StaticLowPower": 25.0,
    "DenseCfgOptimized": 12.0,
    "PerfOptimized": 2.0,
    "StaticHighPerf": 2.0,
}
# Under OS control (or a BIOS the table does not know), the hypervisor's power policy decides.
_READY_BY_POLICY = {"highperformance": 3.0, "static": 3.0, "balanced": 5.4, "dynamic": 5.4}
_READY_OTHERWISE = 8.0  # power saver, low, custom, or no policy known
READY_SOURCE = "embedded estate: a table by BIOS profile and power policy"  # no metrics here, unlike vCenter


def cpu_ready_percent(bios: Row | None, policy: Row | None) -> float:
    """The live CPU ready percent of a host, derived from its BIOS and power policy (docs/estate.md)."""
    attributes = (bios.data.get("attributes") or {}) if bios is not None else {}
    setting = str(attributes.get("SysProfile") or attributes.get("PowerRegulator") or "")
    if setting in _READY_BY_BIOS:
        return _READY_BY_BIOS[setting]
    plan = str((policy.data.get("powerPlan") or policy.data.get("policy") or "") if policy is not None else "")
    return _READY_BY_POLICY.get(plan.casefold(), _READY_OTHERWISE)


# A protected item's health once protection is enabled (Azure: protectionState, replicationHealth).
_PROTECTED = {"protectionState": "Protected", "replicationHealth": "Normal", "testFailoverState": "None"}


class EmbeddedProvider(BaseProvider):
    name = "embedded"
    kinds = frozenset(kinds.KINDS)

    # A host comes back after ``faults.job_polls`` reads of its state: their latency is the wait.
    poll_interval_s = 0.0

    def __init__(
        self, store: EstateStore, faults: Faults | None = None, directories: reads.Directories = reads.NO_DIRECTORIES
    ) -> None:
        self.store = store
        self.faults = faults or Faults()
        self.drills = EmbeddedDrills(store, self.faults)  # test failover, cleanup, recovery points (docs/drills.md)
        # Which Resource Graph query lists each tenant's Azure resources (its directory): from the specs.
        self.directories = directories
        # Whether this estate serves an address: False where a real backend does (the registry sets it from the
        # routing table). The rules then leave those objects to that backend, and a host another backend puts in
        # maintenance reboots here without this estate's own maintenance flag.
        self.serves: Callable[[Address], bool] = lambda _address: True

    @property
    def restart_timeout_s(self) -> float:
        return self.faults.job_timeout_s

    def close(self) -> None:
        self.store.close()

    # --- reading ----------------------------------------------------------------------------------

    def read_scope(self, resource: Resource) -> str:
        """Like the real APIs (``reads``): a VMM server answers a kind family with one script and a vault one kind
        per list call; a tenant's Azure resources are listed per kind and directory (Resource Graph)."""
        site, tenant = resource.site or resource.address.scope, resource.tenant or resource.address.scope
        return reads.read_scope(resource.kind, site=site, tenant=tenant, directories=self.directories)

    def read(self, resources: Sequence[Resource]) -> Mapping[Address, Observed | None]:
        """One call per read scope, like one Get-SC* family script, one Azure list call or one Resource Graph
        query (one round trip per page of its answer)."""
        by_scope: dict[str, dict[str, list[Resource]]] = {}
        for r in resources:
            by_scope.setdefault(self.read_scope(r), {}).setdefault(r.address.kind, []).append(r)
        out: dict[Address, Observed | None] = {}
        for scope, by_kind in by_scope.items():
            # No address: a permanent fault refuses operations on an object, not the list call that reads
            # it (whether a list failed would otherwise depend on how many objects share its scope).
            what = f"list {', '.join(sorted(by_kind))}"
            self.faults.round_trip(what)
            answers = {kind: self._list(kind, members) for kind, members in by_kind.items()}
            for _page in range(1, reads.round_trips(scope, sum(len(rows) for rows in answers.values()))):
                self.faults.round_trip(f"{what} (next page)")
            for kind, rows in answers.items():
                self._match(kind, rows, by_kind[kind], out)
        return out

    def _list(self, kind: str, members: Sequence[Resource]) -> list[Row]:
        scopes = sorted({r.address.scope for r in members})
        rows = self.store.list_many(kind, scopes)
        if kind == kinds.HOST_KIND:
            return self._with_cpu_ready(self._booted(rows), scopes)
        if kind == "bmc.bios":
            return self._booted(rows)
        if kind == "asr.protected_item":
            return with_recovery_points(self.store, rows, scopes)
        return rows

    @staticmethod
    def _match(kind: str, rows: list[Row], members: Sequence[Resource], out: dict[Address, Observed | None]) -> None:
        """The answer's objects into ``out``, each asked resource under its own spelling (None: absent)."""
        found: dict[tuple[str, str], Address] = {}
        for row in rows:
            out[row.address] = observed(row)
            found[(row.address.scope, row.address.name.casefold())] = row.address
        for r in members:
            key = (r.address.scope, r.address.name.casefold())
            if key in found:
                if found[key] != r.address:  # same object, spelled as the spec spells it
                    out[r.address] = out.pop(found[key])
            else:
                out[r.address] = None

    def discover(self, kind: str, scope: Scope) -> list[Observed]:
        """Every object of ``kind`` the estate holds in ``scope``, owned or not (``providers.discovery``)."""
        self.faults.round_trip(f"list {kind}")
        return [observed(row) for row in self.store.list_many(kind, [scope.name])]

    def _with_cpu_ready(self, hosts: list[Row], scopes: Sequence[str]) -> list[Row]:
        """Hosts with their live ``cpuReadyPercent`` (a metric, derived from the BIOS and power policy
        rows of the same answer: still one round trip)."""

        def by_name(kind: str) -> dict[tuple[str, str], Row]:
            return {(r.address.scope, r.address.name.casefold()): r for r in self.store.list_many(kind, scopes)}

        bios, policy = by_name("bmc.bios"), by_name("host.power_policy")
        for row in hosts:
            key = (row.address.scope, row.address.name.casefold())
            percent = cpu_ready_percent(bios.get(key), policy.get(key))
            row.status = {**row.status, "cpuReadyPercent": percent, "cpuReadySource": READY_SOURCE}
        return hosts

    # --- applying ---------------------------------------------------------------------------------

    def apply(
        self, change: ResourceChange, resource: Resource, progress: Callable[[str], None] | None = None
    ) -> Observed | None:
        a = change.address
        report = progress or (lambda _message: None)
        if change.action is Action.DELETE:
            # A prune needs the ownership marker; the first half of a replace run ahead of a dependency's change
            # (the planner's ``vacates``) is a delete the planner allowed, like any replace.
            self._delete(a, pruning=change.action_reason is not ActionReason.REPLACE)
            return None
        if change.action is Action.ADOPT:
            return self._adopt(a, resource)
        if resource.kind == "hyperv.vm_memory":
            return self._vm_memory(change, resource)
        if resource.kind == "bmc.bios":  # settings apply at reset: the engine's host procedure drives it
            raise PermanentError(f"{a}: BIOS settings are applied through the host procedure", code="Procedure")
        self.faults.round_trip(str(change.action), a)
        with self.store.transaction():
            current = self.store.get(a)
            if change.action is Action.REPLACE and current is not None:
                rules.check_delete(self._view(), current)
                self.store.delete(a)
                current = None
            if current is None:
                if not resource.policy.creatable:
                    raise PermanentError(f"{a} does not exist and cannot be created", code="NotFound")
                rules.check_create(self._view(), resource)
                status = _marker(resource)
                if a.kind == "asr.protected_item":
                    status.update(_PROTECTED)
                row = self.store.put(Row(a, dict(resource.desired), status=status, owned=True))
            else:
                rules.check_update(self._view(), resource)
                current.data = {**current.data, **resource.desired}
                if current.owned:  # keep the ownership tags in step with the spec's lifecycle
                    current.status = {**current.status, **_marker(resource)}
                row = self.store.put(current)
        if a.kind == "asr.protected_item" and change.action in (Action.CREATE, Action.REPLACE):
            self._job("EnableProtection", a, report)
        return observed(row)

    def _view(self) -> rules.View:
        return rules.View(self.store, self.serves)

    def _adopt(self, address: Address, resource: Resource) -> Observed:
        """Mark an object made outside the tool as the tool's (its ownership marker, with the spec's lifecycle),
        leaving everything else as it is. Idempotent: an object already marked is left alone."""
        self.faults.round_trip("adopt", address)
        with self.store.transaction():
            row = self._existing(address)
            if not row.owned:
                row.owned = True
                row.status = {**row.status, **_marker(resource)}
                row = self.store.put(row)
        return observed(row)

    def _delete(self, address: Address, *, pruning: bool = True) -> None:
        """Delete (for a protected item: disable protection). Only what the tool created (unless it is the
        first half of a replace), and only once nothing depends on it any more: the real systems refuse
        otherwise."""
        self.faults.round_trip("delete", address)
        with self.store.transaction():
            row = self.store.get(address)
            if row is None:
                return
            if pruning and not row.owned:
                raise PermanentError(f"{address} was not created by reconciler: not deleting it", code="NotOwned")
            rules.check_delete(self._view(), row)
            self.store.delete(address)

    def _job(self, name: str, address: Address, report: Callable[[str], None]) -> None:
        """Wait for a long-running job (an ASR job, a host reboot) with progress and a timeout."""
        started = time.monotonic()
        for poll in range(1, self.faults.job_polls + 1):
            if time.monotonic() - started > self.faults.job_timeout_s:
                raise PermanentError(
                    f"{name} on {address} did not finish within {self.faults.job_timeout_s:g}s; it may still "
                    "finish: run apply again to check",
                    code="JobTimeout",
                )
            self.faults.round_trip(f"poll {name}", address)
            report(f"{name}: InProgress ({poll}/{self.faults.job_polls})")
        report(f"{name}: Succeeded")

    def _existing(self, address: Address) -> Row:
        row = self.store.get(address)
        if row is None:
            raise PermanentError(f"{address} does not exist", code="NotFound")
        return row

    def _set_status(self, address: Address, **status: Any) -> Row:
        """Merge ``status`` into the object's status; a None value removes the key."""
        with self.store.transaction():
            row = self._existing(address)
            merged = {**row.status, **status}
            row.status = {k: v for k, v in merged.items() if v is not None}
            return self.store.put(row)

    def _restore(self, what: str, address: Address, **status: Any) -> Row:
        """Put back what a procedure changed on the way (start the VM, leave maintenance), even when the
        middle step failed. Retried here: once the change itself is done the engine re-reads an in-sync
        object and would never come back to finish. A failure is permanent, so the run reports it."""
        for attempt in range(_RESTORE_ATTEMPTS):
            try:
                self.faults.round_trip(what, address)
                return self._set_status(address, **status)
            except TemporaryError as exc:
                if attempt + 1 == _RESTORE_ATTEMPTS:
                    raise PermanentError(
                        f"{what} {address} failed after {_RESTORE_ATTEMPTS} attempts ({exc}): do it by hand",
                        code="RestoreFailed",
                    ) from exc
                time.sleep(exc.retry_after or 0.05 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _vm_memory(self, change: ResourceChange, resource: Resource) -> Observed:
        """Set-VMMemory, with Stop-VM / Start-VM around it when the change needs the VM off.

        Before stopping the VM the row records ``resume: Start-VM``; a run killed before the restart
        leaves that mark, the next plan shows it, and the next apply starts the VM and clears it."""
        a = change.address
        row = self._existing(a)
        info = kinds.info(a.kind)
        needs_off = info.disruption(change.fields, row.status)
        was_running = str(row.status.get("powerState", "")).casefold() == "running"
        stopped = row.status.get("resume") == "Start-VM"  # an interrupted run stopped it
        if needs_off and was_running:
            self._set_status(a, resume="Start-VM")
            self.faults.round_trip("Stop-VM", a)
            self._set_status(a, powerState="Off")
            stopped = True
        try:
            self.faults.round_trip("Set-VMMemory", a)
            with self.store.transaction():
                row = self._existing(a)
                if needs_off:
                    rules.require_off(row.status, a.name, needs_off)
                row.data = {**row.data, **resource.desired}
                row = self.store.put(row)
        finally:
            if stopped:  # a VM the tool switched off runs again, whether or not the change went through
                row = self._restore("Start-VM", a, powerState="Running", resume=None)
        return observed(row)

    # --- host primitives (providers.hosts): the engine's host procedure drives them ----------------------

    def enter_maintenance(self, host: Resource, progress: Progress) -> None:
        """Disable-SCVMHost with live migration: idempotent."""
        if self._existing(host.address).status.get("maintenance"):
            return
        self.faults.round_trip("Enter maintenance mode", host.address)
        self._set_status(host.address, maintenance=True)
        progress("Enter maintenance mode: done")

    def exit_maintenance(self, host: Resource, progress: Progress) -> None:
        """Enable-SCVMHost: idempotent."""
        if not self._existing(host.address).status.get("maintenance"):
            return
        self.faults.round_trip("Exit maintenance mode", host.address)
        self._set_status(host.address, maintenance=False)
        progress("Exit maintenance mode: done")

    def check(self, change: ResourceChange, resource: Resource) -> None:
        """The estate keeps no attribute registry: validation's vendor rules (spec/rules/power.py) stand for it."""

    def stage(self, change: ResourceChange, resource: Resource, progress: Progress) -> None:
        """Redfish PATCH of Bios/Settings: pending until the next reset."""
        wanted = dict(typed.of(resource, typed.Bios)["attributes"])
        self.faults.round_trip("PATCH Bios/Settings", change.address)
        self._set_status(change.address, pending=wanted)
        progress("BIOS settings staged for the next reset")

    def restart(self, resource: Resource, progress: Progress) -> None:
        """ComputerSystem.Reset: refused outside maintenance mode (when this estate manages the host's maintenance;
        another backend's host procedure made sure of it otherwise). The host answers its manager again, and its
        BIOS shows the staged settings applied, after ``job_polls`` reads of each."""
        host = Address(kinds.HOST_KIND, resource.address.scope, resource.address.name)
        self.faults.round_trip("ComputerSystem.Reset", resource.address)
        with self.store.transaction():
            if self.serves(host):
                rules.require_maintenance(self._existing(host).status, host.name)
                row = self._existing(host)
                row.status = {**row.status, "responding": False, "bootPolls": self.faults.job_polls}
                self.store.put(row)
            bios = self._existing(resource.address)
            bios.status = {**bios.status, "bootPolls": self.faults.job_polls}
            self.store.put(bios)
        progress("ComputerSystem.Reset: accepted")

    def _booted(self, rows: list[Row]) -> list[Row]:
        """Hosts rebooting come back one read at a time, and so do their BIOS settings: the last read of either
        applies the BIOS's pending settings (as firmware does at POST); a host's shows it responding. Each count
        is taken from the row as the store holds it now, not as the list read it: another thread may have
        changed the row since (left maintenance), and writing the listed copy back would undo that."""
        out: list[Row] = []
        for listed in rows:
            if not isinstance(listed.status.get("bootPolls"), int):
                out.append(listed)
                continue
            with self.store.transaction():
                row = self.store.get(listed.address) or listed
                left = row.status.get("bootPolls")
                if not isinstance(left, int):
                    out.append(row)
                    continue
                if left > 0:
                    row.status = {**row.status, "bootPolls": left - 1}
                    out.append(self.store.put(row))
                    continue
                row.status = {k: v for k, v in row.status.items() if k != "bootPolls"}
                if row.address.kind == kinds.HOST_KIND:
                    row.status["responding"] = True
                    out.append(self.store.put(row))
                    self._apply_pending(Address("bmc.bios", row.address.scope, row.address.name))
                else:
                    self.store.put(row)
                    self._apply_pending(row.address)
                    out.append(self.store.get(row.address) or row)
        return out

    def _apply_pending(self, address: Address) -> None:
        bios = self.store.get(address)
        if bios is None:
            return
        pending = dict(bios.status.get("pending") or {})
        bios.data = {**bios.data, "attributes": {**bios.data.get("attributes", {}), **pending}}
        bios.status = {k: v for k, v in bios.status.items() if k != "pending"}
        self.store.put(bios)
