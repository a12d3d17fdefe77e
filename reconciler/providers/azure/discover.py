"""The Azure provider as a ``providers.discovery.Discoverer``: every object of a kind in a site's vault or a
tenant's subscription, through the same list calls and normalization as the bulk read (``Handler.list_scope``),
owned or not. Tagged kinds answer every object the list returns (the tenant's resource groups, the storage
accounts and virtual networks of its recovery resource group; the site's vault); ASR's objects are the tenant's
whose cloud, VM network or subscription the specs' context gives it, as in a read."""

from __future__ import annotations

from reconciler.core import kinds
from reconciler.core.addresses import Address
from reconciler.core.resources import Observed, Resource
from reconciler.providers.azure.handler import AsrHandler, Handler, observed
from reconciler.providers.azure.session import Found
from reconciler.providers.base import HandlerTable, absent_as_none
from reconciler.providers.discovery import Scope


def discover(table: HandlerTable, kind: str, scope: Scope) -> list[Observed]:
    """``kind``'s objects in ``scope`` (empty when the kind does not live there or the context lacks it)."""
    if scope.kind.value not in kinds.info(kind).scopes:
        return []
    handler = table[kind]
    if not isinstance(handler, Handler):
        return []
    context = handler.session.context
    if scope.site not in context.vaults or (scope.tenant is not None and scope.tenant not in context.tenants):
        return []  # the specs' context does not place this scope (yet: import adds it round by round)
    probe = Resource(address=Address(kind, scope.name, "-"), desired={}, site=scope.site, tenant=scope.tenant)
    found: list[Found] = []
    with absent_as_none():
        found = handler.list_scope(probe)
    if not isinstance(handler, AsrHandler):
        return [observed(Address(kind, scope.name, n.name), obj, n) for obj, n in found]
    markers = handler.ledger.lookup(str(obj.get("id", "")) for obj, _ in found)
    return [
        handler.observe(Address(kind, scope.name, n.name), obj, n, markers)
        for obj, n in found
        if handler.tenant_of(scope.site, n) == scope.name
    ]
