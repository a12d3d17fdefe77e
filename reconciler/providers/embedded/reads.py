"""How the embedded estate's reads are scoped and counted, modelled on the real backends so that a plan against
it costs the round trips it would cost against them.

- A VMM server answers a kind family with one script (``vmm_networks.ps1`` lists logical networks, network
  sites and IP pools at once), as the WinRM provider reads it: one round trip per family per site.
- A recovery vault answers one list call per kind (Azure's vault-wide ASR lists).
- A tenant's Azure resources are listed as Azure Resource Graph lists them: one paged query per kind per
  Azure AD directory, over at most ``graph_queries.SUBSCRIPTIONS_PER_QUERY`` of its subscriptions, each page of
  at most ``GRAPH_PAGE_ROWS`` rows one round trip. Tenants whose directory is not known (no specs) are listed per
  subscription, as without Resource Graph.

The grouping is the read scope (``Provider.read_scope``): the engine sends each scope's resources in one call.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reconciler.providers import graph_queries

# What one run of a VMM family's read script answers (the WinRM provider's scripts, providers/winrm/*.py).
VMM_FAMILIES: Mapping[str, frozenset[str]] = {
    "vmm_networks": frozenset({"vmm.logical_network", "vmm.network_site", "vmm.ip_pool"}),
    "vmm_ports": frozenset({"vmm.uplink_port_profile", "vmm.port_classification"}),
    "vmm_switches": frozenset({"vmm.logical_switch", "vmm.host_switch"}),
    "vmm_vm_networks": frozenset({"vmm.vm_network"}),
    "vmm_clouds": frozenset({"vmm.cloud"}),
    "vmm_vms": frozenset({"hyperv.vm_memory"}),
    "vmm_hosts": frozenset({"host.state"}),
}
FAMILY_OF: Mapping[str, str] = {kind: family for family, members in VMM_FAMILIES.items() for kind in members}

# A tenant's own Azure resources: what Azure Resource Graph lists across a directory's subscriptions.
GRAPH_KINDS = frozenset({"azure.resource_group", "azure.storage_account", "azure.virtual_network"})
GRAPH_PAGE_ROWS = graph_queries.PAGE_ROWS


@dataclass(frozen=True)
class Directories:
    """Which directory query lists each tenant's Azure resources: tenant -> ``directory/<id>/<batch>``
    (``providers.graph_queries``)."""

    batch_of: Mapping[str, str]

    @classmethod
    def of(cls, tenants: Iterable[tuple[str, str, str]]) -> Directories:
        """From (tenant, Azure AD directory, subscription) triples, as the specs declare them."""
        return cls(graph_queries.query_scopes(tenants))


NO_DIRECTORIES = Directories({})


def read_scope(kind: str, *, site: str, tenant: str, directories: Directories) -> str:
    """What one embedded read lists and where (the engine's grouping): ``<family or kind> <where>``. ``tenant``
    is the tenant or, for the provider's own objects, the address's scope (the site)."""
    if kind.startswith("azure."):
        if kind in GRAPH_KINDS and tenant in directories.batch_of:
            return f"{kind} {directories.batch_of[tenant]}"
        return f"{kind} tenant/{tenant}"
    return f"{FAMILY_OF.get(kind, kind)} site/{site}"


def round_trips(scope: str, rows: int) -> int:
    """Round trips one read of ``scope`` costs when it answers ``rows`` objects: a directory query's pages, else
    one call."""
    if " directory/" in scope:
        return max(1, math.ceil(rows / GRAPH_PAGE_ROWS))
    return 1
