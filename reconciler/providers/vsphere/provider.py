"""The vSphere provider: a thin dispatcher over the kind handlers (``handlers.py``), and the host manager the
engine's host procedure drives for ESXi hosts (``providers.hosts.HostManager``).

Kinds: ``host.state`` (maintenance, connection, CPU ready from ``QueryPerf``) and ``host.power_policy`` (the
ESXi power policy by short name), for the hosts with ``platform: vsphere`` of each site, through the vCenter its
Site spec names (``spec.vcenter``). Read scope: that vCenter (one bulk read per kind covers all its hosts).
What the handlers share: ``vcenters.py`` (one session per vCenter, the hosts' ids); under them the client
layer (``settings``, ``session``, ``inventory``, ``hosts``, ``perf``, ``faults``: docs/vsphere.md)."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.core import kinds
from reconciler.core.resources import Resource
from reconciler.providers.base import HandlerProvider, HandlerTable, Progress
from reconciler.providers.vsphere.context import VSphereContext
from reconciler.providers.vsphere.handlers import Handler, HostStateHandler, PowerPolicyHandler
from reconciler.providers.vsphere.session import Sessions
from reconciler.providers.vsphere.settings import VSphereSettings
from reconciler.providers.vsphere.vcenters import Vcenters

# The kinds this backend serves (for the hosts with platform vsphere); the handler table must serve exactly these.
KINDS = frozenset({kinds.HOST_KIND, "host.power_policy"})

HANDLERS: tuple[Callable[[Vcenters], Handler], ...] = (HostStateHandler, PowerPolicyHandler)


class VSphereProvider(HandlerProvider):
    name = "vsphere"
    kinds = KINDS

    def __init__(self, settings: VSphereSettings, context: VSphereContext, *, sessions: Sessions | None = None) -> None:
        self.vcenters = Vcenters(settings, context, sessions=sessions)
        handlers = [make(self.vcenters) for make in HANDLERS]
        self.table = HandlerTable(self.name, handlers)
        self._hosts = next(h for h in handlers if isinstance(h, HostStateHandler))
        # How the host procedure polls a host coming back from its reset (providers.hosts.HostManager).
        self.poll_interval_s = settings.restart_poll_s
        self.restart_timeout_s = settings.restart_timeout_s

    def enter_maintenance(self, host: Resource, progress: Progress) -> None:
        """Maintenance mode through vCenter: DRS moves the running VMs (and the powered-off ones) away."""
        self._hosts.enter_maintenance(host, progress)

    def exit_maintenance(self, host: Resource, progress: Progress) -> None:
        self._hosts.exit_maintenance(host, progress)

    def close(self) -> None:
        self.vcenters.close()
