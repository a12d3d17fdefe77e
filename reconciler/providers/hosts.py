"""The host primitives a multi-step host procedure is built from (``engine.procedures``): maintenance mode
through the host's hypervisor manager, and firmware settings through its BMC. Each backend that serves
``host.state`` (VMM over WinRM, vCenter, the embedded estate) is a ``HostManager``; each that serves
``bmc.bios`` (Redfish, the embedded estate) is a ``Firmware``. The engine sequences them and journals every
step, so every backend gets the same guarantees: no host taken out for settings its BMC would refuse, never
more hosts out than the rollout allows, never out of maintenance before the restart is confirmed, and a killed
run finished or unwound by the next.

A host is addressed as ``host.state:SITE/HOST`` and read with the provider's ``read_one``: its status says
``maintenance`` (bool) and ``responding`` (the manager reaches it: False while it reboots). A BIOS object's
data holds the current ``attributes``; its status ``pending`` the attributes staged for the next reset."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from reconciler.core import kinds
from reconciler.core.addresses import Address
from reconciler.core.changes import ResourceChange
from reconciler.core.resources import Observed, Resource
from reconciler.providers.base import Progress, Provider


@runtime_checkable
class HostManager(Provider, Protocol):
    # How often to poll a host coming back from a reset, and for how long at most.
    poll_interval_s: float
    restart_timeout_s: float

    def enter_maintenance(self, host: Resource, progress: Progress) -> None:
        """Put the host in maintenance mode, moving its running VMs to other hosts (live migration); returns
        once it is in maintenance. Idempotent: a host already there is left as it is."""
        ...

    def exit_maintenance(self, host: Resource, progress: Progress) -> None:
        """Take the host out of maintenance mode; idempotent."""
        ...


@runtime_checkable
class Firmware(Provider, Protocol):
    def check(self, change: ResourceChange, resource: Resource) -> None:
        """Refuse, before the host is taken out of service, settings the BMC would reject (a value outside its
        attribute registry): a PermanentError naming the attribute and the valid values. Reads only."""
        ...

    def stage(self, change: ResourceChange, resource: Resource, progress: Progress) -> None:
        """Stage the change's settings on the BMC, to apply at the next reset (Redfish ApplyTime OnReset);
        idempotent."""
        ...

    def restart(self, resource: Resource, progress: Progress) -> None:
        """Reset the host so that staged settings apply; returns once the reset was accepted."""
        ...


def host_of(resource: Resource) -> Resource:
    """The ``host.state`` resource of the host a per-host resource (``bmc.bios:site/HV01``) configures."""
    return Resource(Address(kinds.HOST_KIND, resource.address.scope, resource.address.name), {}, site=resource.site)


def in_maintenance(host: Observed | None) -> bool:
    return host is not None and bool(host.status.get("maintenance"))


def responding(host: Observed | None) -> bool:
    return host is not None and host.status.get("responding", True) is not False


def pending(bios: Observed | None) -> dict[str, str]:
    """The settings staged on the BMC for the next reset."""
    staged = bios.status.get("pending") if bios is not None else None
    return dict(staged) if isinstance(staged, dict) else {}
