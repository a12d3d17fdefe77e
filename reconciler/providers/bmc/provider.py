"""The BMC provider: ``bmc.bios`` through each host's management controller, for the hosts with a ``bmc`` block
in their Site spec, and the firmware the engine's host procedure drives (``providers.hosts.Firmware``). A thin
dispatcher over the kind's handler (``firmware.py``); under it ``connections.py`` (one signed-in backend per
BMC) and the client layer (``settings``, ``model``: the seam, ``redfish_backend``, ``bios``: docs/bmc.md)."""

from __future__ import annotations

from reconciler.core.changes import ResourceChange
from reconciler.core.resources import Resource
from reconciler.providers.base import HandlerProvider, HandlerTable, Progress
from reconciler.providers.bmc.connections import Bmcs, Opener, open_redfish
from reconciler.providers.bmc.context import BmcContext
from reconciler.providers.bmc.firmware import KIND, BiosHandler
from reconciler.providers.bmc.settings import BmcSettings

# The kinds this backend serves (for the hosts with a bmc block); the handler table must serve exactly these.
KINDS = frozenset({KIND})


class BmcProvider(HandlerProvider):
    name = "bmc"
    kinds = KINDS

    def __init__(self, settings: BmcSettings, context: BmcContext, *, opener: Opener = open_redfish) -> None:
        self.bmcs = Bmcs(settings, opener=opener)
        self._bios = BiosHandler(self.bmcs, context)
        self.table = HandlerTable(self.name, [self._bios])

    def check(self, change: ResourceChange, resource: Resource) -> None:
        self._bios.check(change, resource)

    def stage(self, change: ResourceChange, resource: Resource, progress: Progress) -> None:
        self._bios.stage(change, resource, progress)

    def restart(self, resource: Resource, progress: Progress) -> None:
        self._bios.restart(resource, progress)

    def close(self) -> None:
        self.bmcs.close()
