"""The Azure backend's entry in the registry (``providers.backends``): on with ``RECONCILER_AZURE=on``, it
serves the ASR and tenant-side kinds for every site and tenant."""

from __future__ import annotations

from reconciler.providers.azure.settings import AzureSettings
from reconciler.providers.backends import OpenContext
from reconciler.providers.routing import Route


def routes(context: OpenContext) -> list[Route]:
    settings = AzureSettings.from_env(context.env)
    if settings is None:
        return []
    from reconciler.providers.azure.context import AzureContext
    from reconciler.providers.azure.provider import KINDS, AzureProvider

    provider = AzureProvider(settings, AzureContext.from_specs(context.specs), store=context.store())
    return [Route("azure", provider, KINDS)]
