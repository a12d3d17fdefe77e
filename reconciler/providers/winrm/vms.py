"""A tenant VM's memory (``hyperv.vm_memory``), read through VMM and set through VMM, with the VM's Hyper-V
host's WMI where VMM cannot say it.

- Read: ``Get-SCVirtualMachine`` (``vmm_vms.ps1``: every VM of the VMM server in one run): startup
  (``Memory``), the dynamic range, buffer, weight, power state, host, cloud (whose tenant the VM is), and the
  resume mark.
- Set: ``Set-SCVirtualMachine`` with the settings that change. Report-maximum-at-boot (dynamic memory with
  startup above minimum) is where VMM falls short: given a startup above the minimum it sets the two equal
  (VirtualQuantity = Reservation), so the host could never reclaim memory below the startup size. The tool then
  leaves startup to WMI on the VM's host (``hyperv_memory.ps1``: ``Msvm_MemorySettingData`` VirtualQuantity =
  startup, Reservation = minimum, Limit = maximum, through ``Msvm_VirtualSystemManagementService.
  ModifyResourceSettings``) and has VMM re-read the VM (``Read-SCVirtualMachine``).
- Power: a change that needs the VM off (``core.kinds``: startup, dynamic on/off, a higher minimum, a lower
  maximum) on a running VM stops it (``Stop-SCVirtualMachine -Shutdown``), sets, and starts it again
  (``Start-SCVirtualMachine``), whether or not the setting went through. Before stopping it, the tool writes the
  resume mark ``Start-VM`` in the VM's ``ReconcilerResume`` custom property (not its Description: that is the
  tenant's, shown in their portal); a run killed in between leaves the mark, the next plan shows it as a resume
  (``status.resume``), and the next apply starts the VM and clears it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from reconciler.core import desired as typed
from reconciler.core import kinds as core_kinds
from reconciler.core.changes import Action, ResourceChange
from reconciler.core.errors import NotFoundError, PermanentError, TemporaryError
from reconciler.core.resources import Observed, Resource
from reconciler.providers.base import Progress, Step
from reconciler.providers.winrm import normalize
from reconciler.providers.winrm.context import SiteRef
from reconciler.providers.winrm.handler import VmmHandler
from reconciler.providers.winrm.normalize import Normalized

RESUME_MARK = "Start-VM"
_RESTORE_ATTEMPTS = 3
_RANGE = frozenset({"startup", "minimum", "maximum", "dynamic"})


def vmm_settings(desired: typed.VmMemory, changed: frozenset[str]) -> tuple[dict[str, Any], bool]:
    """What Set-SCVirtualMachine gets for the ``changed`` fields, and whether WMI sets the range after it (dynamic
    memory with startup above minimum, which VMM would set equal). Only what changes is sent: a startup size sent
    to a running VM whose startup is not changing would be refused."""
    dynamic = desired["dynamic"]
    startup, minimum, maximum = desired["startup"], desired["minimum"], desired["maximum"]
    wmi = dynamic and startup > minimum and bool(changed & _RANGE)
    out: dict[str, Any] = {}
    if "dynamic" in changed:
        out["dynamic"] = dynamic
        out |= {"minimumMB": minimum, "maximumMB": maximum} if dynamic else {}
        out["startupMB"] = minimum if wmi else startup
    elif not wmi:
        for field, key, value in (("startup", "startupMB", startup), ("minimum", "minimumMB", minimum)):
            if field in changed and (dynamic or field == "startup"):
                out[key] = value
        if "maximum" in changed and dynamic:
            out["maximumMB"] = maximum
    if "bufferPercent" in changed:
        out["bufferPercent"] = desired["bufferPercent"]
    if "priority" in changed:
        out["weight"] = desired["priority"] * 100
    return out, wmi


class VmMemoryHandler(VmmHandler):
    kinds = frozenset({"hyperv.vm_memory"})
    family: ClassVar[str] = "vmm_vms"
    family_kinds: ClassVar[frozenset[str]] = frozenset({"hyperv.vm_memory"})
    section: ClassVar[str] = "vms"
    replaceable: ClassVar[bool] = False

    def normalize(self, obj: Mapping[str, Any]) -> Normalized:
        return normalize.vm_memory(obj)

    def scope_of(self, site: SiteRef, n: Normalized) -> str | None:
        """A VM is the tenant's whose cloud it is in; VMs outside the tenants' clouds are nobody's here."""
        return self.context.tenant_of_cloud(site.name, str(n.status.get("cloud") or ""))

    def claims(self, site: SiteRef, resource: Resource, n: Normalized) -> bool:
        return self.scope_of(site, n) == resource.address.scope

    def reports_unasked(self, n: Normalized) -> bool:
        return True  # a tenant's VMs the specs do not declare are reported (never deleted)

    def put(self, resource: Resource, step: Step, report: Progress, seen: Normalized | None) -> None:
        raise PermanentError(f"{resource.address}: VMs are configured, never created", code="NotCreatable")

    def apply(self, change: ResourceChange, resource: Resource, progress: Progress) -> Observed | None:
        if change.action is not Action.UPDATE:
            raise PermanentError(f"{change.address}: a VM's memory is only ever updated", code="NotCreatable")
        site = self.site(resource)
        vm = self.current(resource)
        if vm is None:
            raise NotFoundError(f"{change.address}: VM {resource.address.name!r} does not exist in VMM")
        needs_off = core_kinds.info(self.kind).disruption(change.fields, vm.status)
        stopped = vm.status.get("resume") == RESUME_MARK  # an interrupted run stopped it
        if needs_off and str(vm.status.get("powerState")) == "Running":
            self._mark(site, vm, RESUME_MARK, progress)  # first: a run killed from here on is found and finished
            self.write(site, {"operation": "stop", "id": vm.id}, f"shut down VM {vm.name}", progress)
            stopped = True
        try:
            changed = frozenset(f.path.split(".")[0] for f in change.fields)
            if changed:
                self._set(resource, vm, changed, progress)
        finally:
            if stopped:  # a VM the tool switched off runs again, whether or not the change went through
                self._restore(resource, progress)
        seen = self.read_one(resource)
        if seen is None:
            raise PermanentError(f"{resource.address} was written but does not read back", code="NotReadBack")
        return seen

    def _set(self, resource: Resource, vm: Normalized, changed: frozenset[str], report: Progress) -> None:
        site, desired = self.site(resource), typed.of(resource, typed.VmMemory)
        settings, wmi = vmm_settings(desired, changed)
        if settings:
            data = {"operation": "set_memory", "id": vm.id, **settings}
            self.write(site, data, f"set the memory of VM {vm.name}", report)
        if wmi:
            # Read again: the VM may have moved since (a host put in maintenance live-migrates its running VMs).
            now = self.current(resource) or vm
            host = str(now.status.get("host") or "")
            data = {
                "operation": "set",
                "vmId": str(vm.status.get("vmId") or ""),
                "startupMB": desired["startup"],
                "minimumMB": desired["minimum"],
                "maximumMB": desired["maximum"],
            }
            self.session.on_host(host, "hyperv_memory", data)
            report(f"{vm.name}: startup {desired['startup']} MB above minimum {desired['minimum']} MB set on {host}")
            self.write(site, {"operation": "refresh", "id": vm.id}, f"refresh VM {vm.name}", report)

    def _mark(self, site: SiteRef, vm: Normalized, value: str, report: Progress) -> None:
        self.write(site, {"operation": "mark", "id": vm.id, "resume": value}, f"mark VM {vm.name}", report)

    def _restore(self, resource: Resource, report: Progress) -> None:
        """Start the VM if it is off and clear the resume mark, retried: once the setting is done the engine reads
        an in-sync VM and would not come back to start it (the mark would, on the next plan)."""
        site = self.site(resource)
        for attempt in range(1, _RESTORE_ATTEMPTS + 1):
            try:
                vm = self.current(resource)
                if vm is None:
                    raise NotFoundError(f"{resource.address}: VM {resource.address.name!r} is gone")
                if str(vm.status.get("powerState")) != "Running":
                    self.write(site, {"operation": "start", "id": vm.id}, f"start VM {vm.name}", report)
                if vm.status.get("resume"):
                    self._mark(site, vm, "", report)
                return
            except TemporaryError as exc:
                if attempt == _RESTORE_ATTEMPTS:
                    raise PermanentError(
                        f"starting VM {resource.address.name} failed after {attempt} attempts ({exc}); its resume "
                        "mark stays: the next apply starts it",
                        code="RestoreFailed",
                    ) from exc
                self.jobs.pause(attempt)
