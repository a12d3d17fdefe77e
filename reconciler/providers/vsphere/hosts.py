"""Writes to ESXi hosts through vCenter: the host power policy, maintenance mode, and waiting for tasks.

These are the primitives a host rollout is built from (enter maintenance, change, leave maintenance);
the rollout itself belongs to the engine. Each call checks the host's current state first and does
nothing when it is already as asked, so a repeated or resumed step is harmless.

Tasks are followed by reading ``task.info`` at a growing interval (0.5 s up to 5 s): one small request per
poll, safe with several waits in flight on one session. The clock and the sleep are injectable.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim, vmodl

from reconciler.core.errors import PermanentError, TemporaryError
from reconciler.providers.vsphere.faults import boundary, translate
from reconciler.providers.vsphere.inventory import HOST_PROPERTIES, HostInfo, PowerPolicy, host_from_properties
from reconciler.providers.vsphere.session import Session


@dataclass(frozen=True)
class TaskProgress:
    """What a task reports while it runs: its description, state and percent done (None: not reported)."""

    action: str
    state: str  # queued, running, success, error
    percent: int | None


ProgressCallback = Callable[[TaskProgress], None]


class TaskStillRunning(TemporaryError):
    """A task still running when the wait's deadline passed: vCenter keeps running it."""


@dataclass(frozen=True)
class Waiting:
    """How task waits poll: injectable for tests (no real sleeping) and tunable for large estates."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    first_poll_s: float = 0.5
    max_poll_s: float = 5.0


def managed_object(session: Session, kind: type[Any], moid: str) -> Any:
    """A pyVmomi reference to an object of this session's vCenter, from its managed object id."""
    return kind(moid, session.service_instance._stub)


def read_host(session: Session, moid: str) -> HostInfo:
    """One host's current state, in one round trip (its cluster's name comes along through ``parent``)."""
    collector = vmodl.query.PropertyCollector
    host = managed_object(session, vim.HostSystem, moid)
    with boundary(server=session.server, action=f"reading host {moid}"):
        spec = collector.FilterSpec(
            objectSet=[
                collector.ObjectSpec(
                    obj=host,
                    skip=False,
                    selectSet=[collector.TraversalSpec(name="parent", path="parent", skip=False, type=vim.HostSystem)],
                )
            ],
            propSet=[
                collector.PropertySpec(type=vim.HostSystem, pathSet=list(HOST_PROPERTIES), all=False),
                collector.PropertySpec(type=vim.ComputeResource, pathSet=["name"], all=False),
            ],
        )
        result = session.content.propertyCollector.RetrievePropertiesEx(
            specSet=[spec], options=collector.RetrieveOptions()
        )
    clusters: dict[str, str] = {}
    props: dict[str, Any] = {}
    for content in result.objects if result is not None else []:
        values = {p.name: p.val for p in content.propSet or []}
        if isinstance(content.obj, vim.ClusterComputeResource):
            clusters[content.obj._moId] = str(values.get("name", ""))
        elif isinstance(content.obj, vim.HostSystem):
            props = values
    if not props:
        raise PermanentError(f"vCenter {session.server}: host {moid} no longer exists", code="ManagedObjectNotFound")
    return host_from_properties(host, props, clusters)


def wait_for_task(
    session: Session,
    task: Any,
    *,
    action: str,
    timeout_s: float,
    on_progress: ProgressCallback | None = None,
    waiting: Waiting | None = None,
) -> Any:
    """Follow a vCenter task to its end; its result, or the engine error for its fault. A task still
    running after ``timeout_s`` is a TemporaryError (vCenter keeps running it; a retry finds its outcome)."""
    w = waiting or Waiting()
    deadline = w.clock() + timeout_s
    interval = w.first_poll_s
    last: TaskProgress | None = None
    while True:
        with boundary(server=session.server, action=action):
            info = task.info
        state = str(info.state)
        progress = TaskProgress(action=action, state=state, percent=info.progress)
        if on_progress is not None and progress != last:
            on_progress(progress)
        last = progress
        if state == vim.TaskInfo.State.success:
            return info.result
        if state == vim.TaskInfo.State.error:
            fault = info.error
            raise translate(fault, server=session.server, action=action) from (
                fault if isinstance(fault, BaseException) else None
            )
        if w.clock() >= deadline:
            raise TaskStillRunning(
                f"vCenter {session.server}: {action}: task {task._moId} still {state} after {timeout_s:.0f} s "
                "(raise RECONCILER_VSPHERE_TASK_TIMEOUT_S if this host needs longer)"
            )
        w.sleep(min(interval, max(0.0, deadline - w.clock())))
        interval = min(interval * 2, w.max_poll_s)


def policy_by_short_name(host: HostInfo, short_name: str) -> PowerPolicy:
    """The host's policy with this shortName (static, dynamic, low, custom); refused when it offers none."""
    wanted = short_name.strip().casefold()
    for policy in host.available_policies:
        if policy.short_name.casefold() == wanted:
            return policy
    offered = ", ".join(p.short_name for p in host.available_policies) or "none"
    raise PermanentError(
        f"host {host.name}: no power policy {short_name!r} (it offers: {offered})", code="UnknownPowerPolicy"
    )


def set_power_policy(session: Session, host: HostInfo, short_name: str) -> PowerPolicy:
    """Make ``short_name`` the host's power policy (static = High performance); the policy now in force.
    Nothing is sent when the host already runs it."""
    policy = policy_by_short_name(host, short_name)
    if host.power_policy is not None and host.power_policy.key == policy.key:
        return policy
    if host.power_system_moid is None:
        raise PermanentError(f"host {host.name}: vCenter exposes no power system for it", code="NoPowerSystem")
    power_system = managed_object(session, vim.host.PowerSystem, host.power_system_moid)
    with boundary(server=session.server, action=f"setting host {host.name}'s power policy to {policy.short_name}"):
        power_system.ConfigurePowerPolicy(key=policy.key)
    return policy


def enter_maintenance(
    session: Session,
    host: HostInfo,
    *,
    timeout_s: float,
    evacuate_powered_off: bool = True,
    on_progress: ProgressCallback | None = None,
    waiting: Waiting | None = None,
) -> bool:
    """Put the host in maintenance mode; True when it changed. In a DRS cluster vCenter moves the running
    VMs away, and with ``evacuate_powered_off`` the powered-off ones too; ``timeout_s`` bounds that wait
    on vCenter's side and ours. A host whose VMs could not all be moved in time (no DRS, DRS not fully
    automated, no room elsewhere) is a PermanentError: retrying would only wait as long again."""
    if host.in_maintenance:
        return False
    action = f"entering maintenance mode on host {host.name}"
    target = managed_object(session, vim.HostSystem, host.moid)
    with boundary(server=session.server, action=action):
        task = target.EnterMaintenanceMode_Task(timeout=int(timeout_s), evacuatePoweredOffVms=evacuate_powered_off)
    try:
        # vCenter gives up after its own timeout; allow a minute more to read that outcome.
        wait_for_task(session, task, action=action, timeout_s=timeout_s + 60, on_progress=on_progress, waiting=waiting)
    except TemporaryError as exc:
        if not isinstance(exc, TaskStillRunning) and not isinstance(exc.__cause__, vim.fault.Timedout):
            raise
        if isinstance(exc, TaskStillRunning):
            with contextlib.suppress(Exception):  # best effort: a task that ended meanwhile cannot be cancelled
                task.CancelTask()
        raise PermanentError(
            f"vCenter {session.server}: host {host.name} did not enter maintenance mode within {timeout_s:.0f} s: its "
            "VMs could not all be moved off (is the cluster's DRS fully automated, with room on the other hosts?); "
            "move them by hand, or raise RECONCILER_VSPHERE_MAINTENANCE_TIMEOUT_S",
            code="MaintenanceTimeout",
        ) from exc
    return True


def exit_maintenance(
    session: Session,
    host: HostInfo,
    *,
    timeout_s: float,
    on_progress: ProgressCallback | None = None,
    waiting: Waiting | None = None,
) -> bool:
    """Take the host out of maintenance mode; True when it changed."""
    if not host.in_maintenance:
        return False
    action = f"exiting maintenance mode on host {host.name}"
    target = managed_object(session, vim.HostSystem, host.moid)
    with boundary(server=session.server, action=action):
        task = target.ExitMaintenanceMode_Task(timeout=int(timeout_s))
    wait_for_task(session, task, action=action, timeout_s=timeout_s + 60, on_progress=on_progress, waiting=waiting)
    return True
