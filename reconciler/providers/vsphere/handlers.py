"""The vSphere provider's kind handlers: an ESXi host as vCenter sees it (``host.state``: maintenance mode,
connection, CPU ready) and its power policy (``host.power_policy``).

Both read one vCenter at a time: the read scope of a host's resource is the vCenter of its site, so the engine
reads each kind with one bulk read per vCenter (``inventory.read_hosts``: one PropertyCollector round trip for
every host; ``host.state`` adds one for the VMs and the ``QueryPerf`` calls of the CPU ready window). A single
read (``read_one``, what the host procedure polls) is one small request for one host.

The host primitives the engine's host procedure drives (``providers.hosts.HostManager``) are the host-state
handler's: maintenance mode through vCenter, with the running VMs moved off by DRS and a timeout."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence

from reconciler.core import kinds
from reconciler.core.addresses import Address
from reconciler.core.changes import ResourceChange
from reconciler.core.errors import NotFoundError, PermanentError
from reconciler.core.resources import Observed, Resource
from reconciler.providers.base import Progress, absent_as_none
from reconciler.providers.vsphere import hosts as host_ops
from reconciler.providers.vsphere import inventory, normalize, perf
from reconciler.providers.vsphere.context import VCenterRef
from reconciler.providers.vsphere.inventory import HostInfo
from reconciler.providers.vsphere.session import Session
from reconciler.providers.vsphere.vcenters import Vcenters


class Handler(abc.ABC):
    """One kind's reads and writes against the vCenter of each resource's site."""

    kinds: frozenset[str] = frozenset()

    def __init__(self, vcenters: Vcenters) -> None:
        self.vcenters = vcenters
        self.settings = vcenters.settings

    def read_scope(self, resource: Resource) -> str:
        return self.vcenters.context.vcenter(resource).scope

    def read(self, resources: Sequence[Resource]) -> Mapping[Address, Observed | None]:
        """One bulk read of the vCenter; each asked host's object, None for a host vCenter does not have."""
        if not resources:
            return {}
        ref = self.vcenters.context.vcenter(resources[0])
        found = self.read_vcenter(ref, resources)
        return {r.address: found.get(r.address.name.casefold()) for r in resources}

    def read_one(self, resource: Resource) -> Observed | None:
        with absent_as_none():
            _ref, host = self.vcenters.find(resource)
            return self.observe(resource.address, host)
        return None

    @abc.abstractmethod
    def read_vcenter(self, ref: VCenterRef, resources: Sequence[Resource]) -> dict[str, Observed]:
        """The asked hosts' objects (by host name casefolded, addressed as asked), from one bulk read."""

    @abc.abstractmethod
    def observe(self, address: Address, host: HostInfo) -> Observed:
        """One host's object, from its current state."""

    @abc.abstractmethod
    def apply(self, change: ResourceChange, resource: Resource, progress: Progress) -> Observed | None: ...


def _asked(resources: Sequence[Resource]) -> dict[str, Address]:
    return {r.address.name.casefold(): r.address for r in resources}


class PowerPolicyHandler(Handler):
    """The host power policy by short name (``ConfigurePowerPolicy`` on the host's power system)."""

    kinds = frozenset({"host.power_policy"})

    def read_vcenter(self, ref: VCenterRef, resources: Sequence[Resource]) -> dict[str, Observed]:
        asked = _asked(resources)
        return {
            key: normalize.power_policy(asked[key], host)
            for host in self.vcenters.hosts(ref)
            if (key := host.name.casefold()) in asked
        }

    def observe(self, address: Address, host: HostInfo) -> Observed:
        return normalize.power_policy(address, host)

    def apply(self, change: ResourceChange, resource: Resource, progress: Progress) -> Observed | None:
        wanted = str(resource.desired.get("policy") or "")
        if not wanted:
            raise PermanentError(f"{resource.address}: the spec gives no vSphere power policy", code="NoPolicy")
        try:
            ref, host = self.vcenters.find(resource)
        except NotFoundError as exc:  # configure-only: the planner reports a missing host; it vanished since
            raise PermanentError(str(exc), code=exc.code) from exc
        policy = self.vcenters.call(ref, lambda session: host_ops.set_power_policy(session, host, wanted))
        progress(f"vCenter {ref.server}: power policy of {host.name} is {policy.short_name} ({policy.name})")
        return self.read_one(resource)


class HostStateHandler(Handler):
    """An ESXi host as vCenter sees it, with CPU ready from ``QueryPerf``; maintenance mode."""

    kinds = frozenset({kinds.HOST_KIND})

    def read_vcenter(self, ref: VCenterRef, resources: Sequence[Resource]) -> dict[str, Observed]:
        asked = _asked(resources)
        chosen = [h for h in self.vcenters.hosts(ref) if h.name.casefold() in asked]
        if not chosen:
            return {}
        samples = self.settings.ready_samples

        def metrics(session: Session) -> dict[str, Observed]:
            vms = inventory.read_vms(session)
            running = {h.moid: normalize.running_on(h, vms) for h in chosen}
            readings = perf.cpu_ready(
                session, hosts=chosen, vms=[vm for on in running.values() for vm in on], samples=samples
            )
            host_ready = {r.name: r for r in readings if r.kind is perf.EntityKind.HOST}
            vm_ready = {r.name: r for r in readings if r.kind is perf.EntityKind.VM}
            return {
                h.name.casefold(): normalize.with_metrics(
                    normalize.host_state(asked[h.name.casefold()], h),
                    h,
                    running=running[h.moid],
                    host_ready=host_ready.get(h.name),
                    vm_ready=vm_ready,
                    samples=samples,
                )
                for h in chosen
            }

        return self.vcenters.call(ref, metrics)

    def observe(self, address: Address, host: HostInfo) -> Observed:
        return normalize.host_state(address, host)

    def apply(self, change: ResourceChange, resource: Resource, progress: Progress) -> Observed | None:
        raise PermanentError(f"{resource.address}: a host's state is read, never planned", code="Inventory")

    # --- the host primitives (providers.hosts.HostManager) ----------------------------------------------

    def enter_maintenance(self, host: Resource, progress: Progress) -> None:
        ref, info = self._existing(host)
        timeout = self.settings.maintenance_timeout_s
        self.vcenters.call(
            ref,
            lambda session: host_ops.enter_maintenance(
                session, info, timeout_s=timeout, evacuate_powered_off=True, on_progress=_reporter(ref, progress)
            ),
        )

    def exit_maintenance(self, host: Resource, progress: Progress) -> None:
        ref, info = self._existing(host)
        timeout = self.settings.task_timeout_s
        self.vcenters.call(
            ref,
            lambda session: host_ops.exit_maintenance(
                session, info, timeout_s=timeout, on_progress=_reporter(ref, progress)
            ),
        )

    def _existing(self, host: Resource) -> tuple[VCenterRef, HostInfo]:
        try:
            return self.vcenters.find(host)
        except NotFoundError as exc:
            raise PermanentError(str(exc), code=exc.code) from exc


def _reporter(ref: VCenterRef, progress: Progress) -> host_ops.ProgressCallback:
    """A vCenter task's progress as the engine's progress lines."""

    def report(task: host_ops.TaskProgress) -> None:
        done = f" {task.percent}%" if task.percent is not None and task.state == "running" else ""
        progress(f"vCenter {ref.server}: {task.action}: {task.state}{done}")

    return report
