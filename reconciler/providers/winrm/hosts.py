"""Hyper-V hosts: as VMM sees them (``host.state``, and maintenance mode for the engine's host procedure) and
their Windows power plan (``host.power_policy``, on the host itself).

- ``host.state``: ``Get-SCVMHost`` (``vmm_hosts.ps1``, every host of the VMM server in one run):
  ``MaintenanceHost`` and ``CommunicationState`` (``Responding`` while VMM reaches the host, not while it
  reboots). Maintenance mode is ``Disable-SCVMHost -MoveWithinCluster`` (VMM live-migrates the running VMs to the
  cluster's other hosts; a host outside a cluster with running VMs is refused, since VMM would save their state
  instead) and ``Enable-SCVMHost``. Inventory: never planned, never written by a plan.
- ``host.power_policy``: ``powercfg /getactivescheme`` and ``/setactive`` (``host_power.ps1``) over WinRM on the
  host, by the plan's GUID. One read per host: each host is its own endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from reconciler.core import desired as typed
from reconciler.core.addresses import Address
from reconciler.core.changes import Action, ResourceChange
from reconciler.core.errors import NotFoundError, PermanentError
from reconciler.core.resources import Observed, Resource
from reconciler.providers.base import Progress, Step, absent_as_none
from reconciler.providers.winrm import normalize
from reconciler.providers.winrm.handler import Services, VmmHandler, observed
from reconciler.providers.winrm.normalize import Normalized
from reconciler.providers.winrm.session import Session


class HostStateHandler(VmmHandler):
    kinds = frozenset({"host.state"})
    family: ClassVar[str] = "vmm_hosts"
    family_kinds: ClassVar[frozenset[str]] = frozenset({"host.state"})
    section: ClassVar[str] = "hosts"
    replaceable: ClassVar[bool] = False

    def normalize(self, obj: Mapping[str, Any]) -> Normalized:
        return normalize.host_state(obj)

    def reports_unasked(self, n: Normalized) -> bool:
        return False  # inventory: the hosts the specs name, no others

    def put(self, resource: Resource, step: Step, report: Progress, seen: Normalized | None) -> None:
        raise PermanentError(f"{resource.address}: hosts are inventory, never written by a plan", code="Inventory")

    def enter_maintenance(self, host: Resource, progress: Progress) -> None:
        """Disable-SCVMHost with live migration of its running VMs; nothing when it is in maintenance already."""
        self._maintenance(host, progress, on=True)

    def exit_maintenance(self, host: Resource, progress: Progress) -> None:
        """Enable-SCVMHost; nothing when it is not in maintenance."""
        self._maintenance(host, progress, on=False)

    def _maintenance(self, host: Resource, progress: Progress, *, on: bool) -> None:
        seen = self.current(host)
        if seen is None:
            raise NotFoundError(f"{host.address}: VMM does not manage a host named {host.address.name!r}")
        if bool(seen.status.get("maintenance")) == on:
            return
        what = f"{'put' if on else 'take'} {seen.name} {'in' if on else 'out of'} maintenance mode"
        self.write(self.site(host), {"operation": "maintenance", "id": seen.id, "on": on}, what, progress)


class PowerPolicyHandler:
    """The host's Windows power plan, read and set on the host itself (not a VMM object)."""

    kinds = frozenset({"host.power_policy"})

    def __init__(self, services: Services) -> None:
        self.session: Session = services.session

    def read_scope(self, resource: Resource) -> str:
        return f"host/{resource.address.name.casefold()}"

    def _read(self, resource: Resource) -> Normalized | None:
        with absent_as_none():
            output = self.session.on_host(resource.address.name, "host_power", {"operation": "read"})
            first = output[0] if output else None
            return normalize.power_policy(first) if isinstance(first, Mapping) else None
        return None

    def read(self, resources: Sequence[Resource]) -> dict[Address, Observed | None]:
        """One script per host (each host answers for itself); the engine's group is one host."""
        out: dict[Address, Observed | None] = {}
        for resource in resources:
            n = self._read(resource)
            out[resource.address] = observed(resource.address, n) if n is not None else None
        return out

    def read_one(self, resource: Resource) -> Observed | None:
        return self.read([resource])[resource.address]

    def apply(self, change: ResourceChange, resource: Resource, progress: Progress) -> Observed | None:
        if change.action is not Action.UPDATE:
            raise PermanentError(f"{change.address}: a host's power plan is only ever updated", code="NotCreatable")
        d = typed.of(resource, typed.PowerPolicy)
        plan = d.get("powerPlan", "")
        guid = normalize.PLAN_GUIDS.get(plan.casefold())
        if d["platform"] != "hyperv" or guid is None:
            raise PermanentError(f"{change.address}: not a Windows power plan: {plan!r}", code="InvalidPowerPlan")
        host = resource.address.name
        self.session.on_host(host, "host_power", {"operation": "set", "scheme": guid})
        progress(f"{host}: power plan {plan} ({guid}) active")
        seen = self.read_one(resource)
        if seen is None:
            raise PermanentError(f"{resource.address} was written but does not read back", code="NotReadBack")
        return seen
