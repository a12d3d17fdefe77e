"""The WinRM backend's entry in the registry (``providers.backends``): on with ``RECONCILER_WINRM=on``, it
serves the VMM kinds of every site through the site's VMM server (``spec.vmm.server``), and the per-host kinds
(``host.state``: maintenance for the host procedure; ``host.power_policy``) of the hosts whose ``platform`` is
``hyperv``. Other hosts stay with whatever backend serves them (vCenter, the embedded estate)."""

from __future__ import annotations

from reconciler.providers.backends import OpenContext, host_selector
from reconciler.providers.routing import Route
from reconciler.providers.winrm.settings import WinRMSettings
from reconciler.spec.models.site import Platform


def routes(context: OpenContext) -> list[Route]:
    settings = WinRMSettings.from_env(context.env)
    if settings is None:
        return []
    from reconciler.providers.winrm.context import WinRMContext
    from reconciler.providers.winrm.provider import HOST_KINDS, VMM_KINDS, WinRMProvider

    provider = WinRMProvider(settings, WinRMContext.from_specs(context.specs), store=context.store())
    hyperv = host_selector(context.specs, lambda host: host.platform is Platform.HYPERV)
    return [
        Route("winrm", provider, VMM_KINDS),
        Route("winrm", provider, HOST_KINDS, selects=hyperv, describe="hosts with platform hyperv"),
    ]
