"""The BMC backend's entry in the registry (``providers.backends``): on with ``RECONCILER_BMC=on``, it serves
``bmc.bios`` for the hosts whose Site spec gives a ``bmc`` block (address, vendor), whatever their hypervisor.
Each BMC's address and login are checked here, when the run opens, so that a missing login is one line naming
the variable rather than a failed read."""

from __future__ import annotations

from reconciler.providers import backends
from reconciler.providers.backends import OpenContext
from reconciler.providers.bmc.settings import BmcSettings
from reconciler.providers.routing import Route


def routes(context: OpenContext) -> list[Route]:
    settings = BmcSettings.from_env(context.env)
    if settings is None:
        return []
    from reconciler.providers.bmc.context import BmcContext
    from reconciler.providers.bmc.provider import KINDS, BmcProvider

    bmcs = BmcContext.from_specs(context.specs)
    for ref in bmcs.bmcs.values():
        target = settings.target(host=ref.host, address=ref.address, vendor=ref.vendor)
        settings.login(target, spec_address=ref.address)
    provider = BmcProvider(settings, bmcs)
    selects = backends.host_selector(context.specs, lambda host: host.bmc is not None)
    return [Route("bmc", provider, KINDS, selects=selects, describe="hosts with a bmc block")]
