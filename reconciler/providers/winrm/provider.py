"""The WinRM provider: a thin dispatcher that hands each resource to the one handler of its kind, and the
host primitives (``providers.hosts.HostManager``) the engine's host procedure drives for Hyper-V hosts.

Handlers, one module per kind family (each owns its kinds' read, single read and writes, through its family's
script in ``scripts/``):
- ``networks.py``: logical networks, network sites, IP pools (``vmm_networks.ps1``);
- ``ports.py``: uplink port profiles, port classifications with their virtual port profiles (``vmm_ports.ps1``);
- ``switches.py``: logical switches and their deployment to hosts (``vmm_switches.ps1``);
- ``vm_networks.py``: VM networks and their VM subnets (``vmm_vm_networks.ps1``);
- ``clouds.py``: tenants' clouds (``vmm_clouds.ps1``);
- ``vms.py``: VM memory through VMM, and WMI on the VM's host (``vmm_vms.ps1``, ``hyperv_memory.ps1``);
- ``hosts.py``: hosts as VMM sees them, maintenance mode (``vmm_hosts.ps1``), power plans (``host_power.ps1``).

What they share: ``session.py`` (endpoints, scripts, the read snapshots, "absent"), ``jobs.py`` (VMM jobs),
``handler.py`` (the handler base), ``normalize.py`` and ``marker.py`` (the scripts' output to the engine's shape,
and the ownership marker), the ownership ledger (``providers.ledger``) for objects without a Description.

Read scopes: the VMM server of the site (one run of a family's read script answers every kind of the family),
and each Hyper-V host for its power plan.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from reconciler.core.resources import Observed, Resource
from reconciler.providers.base import HandlerProvider, HandlerTable, KindHandler, Progress
from reconciler.providers.discovery import Scope
from reconciler.providers.ledger import Ledger, MemoryLedger, StoreLedger
from reconciler.providers.winrm import discover
from reconciler.providers.winrm.clouds import CloudHandler
from reconciler.providers.winrm.context import WinRMContext
from reconciler.providers.winrm.handler import Services
from reconciler.providers.winrm.hosts import HostStateHandler, PowerPolicyHandler
from reconciler.providers.winrm.jobs import Jobs
from reconciler.providers.winrm.networks import IpPoolHandler, LogicalNetworkHandler, NetworkSiteHandler
from reconciler.providers.winrm.ports import PortClassificationHandler, UplinkPortProfileHandler
from reconciler.providers.winrm.session import ScriptRunner, Session
from reconciler.providers.winrm.settings import WinRMSettings
from reconciler.providers.winrm.switches import HostSwitchHandler, LogicalSwitchHandler
from reconciler.providers.winrm.transport import Runner
from reconciler.providers.winrm.vm_networks import VmNetworkHandler
from reconciler.providers.winrm.vms import VmMemoryHandler
from reconciler.store.db import Store

# What the registry routes here when RECONCILER_WINRM=on: the VMM kinds of every site (VM memory is read and set
# through VMM too), and the per-host kinds of the specs' Hyper-V hosts. The handler table must serve exactly
# these (tests/test_winrm_provider.py holds it to that).
VMM_KINDS = frozenset(
    {
        "vmm.logical_network",
        "vmm.network_site",
        "vmm.ip_pool",
        "vmm.uplink_port_profile",
        "vmm.port_classification",
        "vmm.logical_switch",
        "vmm.host_switch",
        "vmm.vm_network",
        "vmm.cloud",
        "hyperv.vm_memory",
    }
)
HOST_KINDS = frozenset({"host.state", "host.power_policy"})
KINDS = VMM_KINDS | HOST_KINDS

# One entry per handler; a new kind is a new handler here.
HANDLERS: tuple[Callable[[Services], KindHandler], ...] = (
    LogicalNetworkHandler,
    NetworkSiteHandler,
    IpPoolHandler,
    UplinkPortProfileHandler,
    PortClassificationHandler,
    LogicalSwitchHandler,
    HostSwitchHandler,
    VmNetworkHandler,
    CloudHandler,
    VmMemoryHandler,
    HostStateHandler,
    PowerPolicyHandler,
)


class WinRMProvider(HandlerProvider):
    name = "winrm"
    kinds = KINDS

    def __init__(
        self,
        settings: WinRMSettings,
        context: WinRMContext,
        *,
        store: Store | None = None,
        runner: ScriptRunner | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``runner`` defaults to one over ``settings``; ``clock`` and ``sleep`` time the VMM job waits."""
        self.session = Session(settings, context, runner or Runner(settings), clock=clock)
        self.ledger: Ledger = StoreLedger(store) if store is not None else MemoryLedger()
        services = Services(self.session, Jobs(self.session, clock=clock, sleep=sleep), self.ledger)
        self.table = HandlerTable(self.name, (make(services) for make in HANDLERS))
        hosts = self.table["host.state"]
        assert isinstance(hosts, HostStateHandler)
        self._hosts = hosts
        # providers.hosts.HostManager: how the engine waits for a host coming back from a reset.
        self.poll_interval_s = settings.poll_interval_s
        self.restart_timeout_s = settings.restart_timeout_s

    def enter_maintenance(self, host: Resource, progress: Progress) -> None:
        self._hosts.enter_maintenance(host, progress)

    def exit_maintenance(self, host: Resource, progress: Progress) -> None:
        self._hosts.exit_maintenance(host, progress)

    def discover(self, kind: str, scope: Scope) -> list[Observed]:
        """What exists of ``kind`` in ``scope``, owned or not (``providers.discovery``; ``discover.py``)."""
        return discover.discover(self.table, self.session.context, kind, scope)

    def close(self) -> None:
        self.session.close()
