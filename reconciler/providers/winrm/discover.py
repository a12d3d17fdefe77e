"""The WinRM provider as a ``providers.discovery.Discoverer`` (what ``reconciler import`` lists): every object of a
VMM kind in a site's or a tenant's scope, through the family's read script run for that kind alone and normalized
as a plan reads it, owned or not; and each Hyper-V host's power plan, read on the host. A tenant's objects (its
cloud, VM networks, VMs) are the ones the specs' context gives it (their cloud or VM network), as in a read."""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.core import kinds
from reconciler.core.addresses import Address
from reconciler.core.errors import PermanentError
from reconciler.core.resources import Observed, Resource
from reconciler.providers.base import HandlerTable, absent_as_none
from reconciler.providers.discovery import Scope
from reconciler.providers.winrm.context import SiteRef, WinRMContext
from reconciler.providers.winrm.handler import VmmHandler, observed
from reconciler.providers.winrm.hosts import PowerPolicyHandler


def discover(table: HandlerTable, context: WinRMContext, kind: str, scope: Scope) -> list[Observed]:
    """``kind``'s objects in ``scope`` (empty when the kind does not live there or the context lacks it)."""
    if scope.kind.value not in kinds.info(kind).scopes or kind not in table.kinds:
        return []
    try:
        site = context.site(scope.site)
    except PermanentError:
        return []  # the specs' context does not place this scope (yet: import adds it round by round)
    if scope.tenant is not None and scope.tenant not in context.tenants:
        return []
    handler = table[kind]
    if isinstance(handler, PowerPolicyHandler):
        return _power_policies(handler, site, scope)
    if not isinstance(handler, VmmHandler):
        return []
    data = {"operation": "read", "kinds": [kind], "names": None}
    found = []
    with absent_as_none():
        output = handler.session.vmm(site, handler.family, data)
        answer = output[0] if output and isinstance(output[0], Mapping) else {}
        found = handler.found(site, answer)
    return [observed(Address(kind, scope.name, n.name), n) for n in found if handler.scope_of(site, n) == scope.name]


def _power_policies(handler: PowerPolicyHandler, site: SiteRef, scope: Scope) -> list[Observed]:
    """The power plan of each of the site's Hyper-V hosts the specs' context names (VMM's hosts, once discovered)."""
    out = []
    for host in sorted(site.hyperv_hosts, key=str.casefold):
        probe = Resource(Address("host.power_policy", scope.name, host), {}, site=site.name)
        seen = handler.read_one(probe)
        if seen is not None:
            out.append(seen)
    return out
