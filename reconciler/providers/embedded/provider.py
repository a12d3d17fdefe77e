"""The embedded provider: serves every kind from the estate store, one round trip per bulk read and
per operation, enforcing the real systems' rules (``rules``) and their multi-step procedures (a VM's
power cycle around a memory change; maintenance mode and a reboot around a BIOS change)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core import kinds
from reconciler.core.addresses import Address
from reconciler.core.changes import Action, ResourceChange
from reconciler.core.errors import PermanentError, TemporaryError
from reconciler.core.resources import Observed, Resource
from reconciler.providers.embedded import rules
from reconciler.providers.embedded.faults import Faults
from reconciler.providers.embedded.store import EstateStore, Row

_RESTORE_ATTEMPTS = 5


def observed(row: Row) -> Observed:
    return Observed(address=row.address, data=row.data, status=row.status, owned=row.owned, version=str(row.version))


class EmbeddedProvider:
    name = "embedded"
    kinds = frozenset(kinds.KINDS)

    def __init__(self, store: EstateStore, faults: Faults | None = None) -> None:
        self.store = store
        self.faults = faults or Faults()

    def close(self) -> None:
        self.store.close()

    # --- reading ----------------------------------------------------------------------------------

    def read(self, resources: Sequence[Resource]) -> Mapping[Address, Observed | None]:
        """One round trip per kind and scope, like one Get-SC* script or one Azure list call."""
        groups: dict[tuple[str, str], list[Resource]] = {}
        for r in resources:
            groups.setdefault((r.address.kind, r.address.scope), []).append(r)
        out: dict[Address, Observed | None] = {}
        for (kind, scope), members in groups.items():
            # No address: a permanent fault refuses operations on an object, not the list call that reads
            # it (whether a list failed would otherwise depend on how many objects share its scope).
            self.faults.round_trip(f"list {kind}")
            rows = {row.address.name.casefold(): row for row in self.store.list(kind, scope)}
            for r in members:
                row = rows.get(r.address.name.casefold())
                out[r.address] = observed(row) if row is not None else None
        return out

    # --- applying ---------------------------------------------------------------------------------

    def apply(self, change: ResourceChange, resource: Resource) -> Observed | None:
        a = change.address
        if change.action is Action.DELETE:
            self.faults.round_trip("delete", a)
            self.store.delete(a)
            return None
        if resource.kind == "hyperv.vm_memory":
            return self._vm_memory(change, resource)
        if resource.kind == "bmc.bios":
            return self._bios(change, resource)
        self.faults.round_trip(str(change.action), a)
        with self.store.transaction():
            current = self.store.get(a)
            if change.action is Action.REPLACE and current is not None:
                self.store.delete(a)
                current = None
            if current is None:
                if not resource.policy.creatable:
                    raise PermanentError(f"{a} does not exist and cannot be created", code="NotFound")
                rules.check_create(self.store, resource)
                row = self.store.put(Row(a, dict(resource.desired), owned=True))
            else:
                rules.check_update(self.store, resource)
                current.data = {**current.data, **resource.desired}
                row = self.store.put(current)
        return observed(row)

    def _existing(self, address: Address) -> Row:
        row = self.store.get(address)
        if row is None:
            raise PermanentError(f"{address} does not exist", code="NotFound")
        return row

    def _set_status(self, address: Address, **status: Any) -> Row:
        with self.store.transaction():
            row = self._existing(address)
            row.status = {**row.status, **status}
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
        """Set-VMMemory, with Stop-VM / Start-VM around it when the change needs the VM off."""
        a = change.address
        row = self._existing(a)
        info = kinds.info(a.kind)
        needs_off = info.disruption(change.fields, row.status)
        was_running = str(row.status.get("powerState", "")).casefold() == "running"
        stopped = False
        if needs_off and was_running:
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
                row = self._restore("Start-VM", a, powerState="Running")
        return observed(row)

    def _bios(self, change: ResourceChange, resource: Resource) -> Observed:
        """Redfish PATCH of BIOS settings (pending until reset), then maintenance mode, reboot, and back."""
        a = change.address
        host = Address("vmm.host", a.scope, a.name)
        wanted = dict(resource.desired.get("attributes", {}))
        self.faults.round_trip("PATCH Bios/Settings", a)
        self._set_status(a, pending=wanted)
        already_in_maintenance = bool(self._existing(host).status.get("maintenance"))
        if not already_in_maintenance:
            self.faults.round_trip("Enter maintenance mode", host)
            self._set_status(host, maintenance=True)
        try:
            self.faults.round_trip("ComputerSystem.Reset", a)
            with self.store.transaction():
                rules.require_maintenance(self._existing(host).status, a.name)
                row = self._existing(a)
                pending = dict(row.status.get("pending", {}))
                row.data = {**row.data, "attributes": {**row.data.get("attributes", {}), **pending}}
                row.status = {**row.status, "pending": {}}
                row = self.store.put(row)
        finally:
            # A host the tool put in maintenance leaves it, whether or not the reboot went through; one an
            # operator put there stays.
            if not already_in_maintenance:
                self._restore("Exit maintenance mode", host, maintenance=False)
        return observed(row)
