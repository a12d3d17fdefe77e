"""The vSphere backend's entry in the registry (``providers.backends``): on with ``RECONCILER_VSPHERE=on``, it
serves ``host.state`` and ``host.power_policy`` for the hosts with ``platform: vsphere``, through the vCenter
each site's spec names. Each vCenter's address and credentials are checked here, when the run opens, so that
a missing login is one line naming the variable rather than a failed read."""

from __future__ import annotations

from reconciler.providers import backends
from reconciler.providers.backends import OpenContext
from reconciler.providers.routing import Route
from reconciler.providers.vsphere.settings import VSphereSettings
from reconciler.spec.models.site import Platform


def routes(context: OpenContext) -> list[Route]:
    settings = VSphereSettings.from_env(context.env)
    if settings is None:
        return []
    from reconciler.providers.vsphere.context import VSphereContext
    from reconciler.providers.vsphere.provider import KINDS, VSphereProvider

    vsphere = VSphereContext.from_specs(context.specs)
    for site, doc in context.specs.sites.items():
        ref = vsphere.vcenters.get(site)
        if ref is not None and any(h.platform is Platform.VSPHERE for h in doc.model.spec.hosts):
            settings.endpoint(ref.server, ref.port)  # listed in RECONCILER_VSPHERE_SERVERS, when that is set
            settings.credentials(ref.server)
    provider = VSphereProvider(settings, vsphere)
    selects = backends.host_selector(context.specs, lambda host: host.platform is Platform.VSPHERE)
    return [Route("vsphere", provider, KINDS, selects=selects, describe="hosts with platform vsphere")]
