"""Read scopes: the engine reads each (provider, read scope) with one call, a scope may hold a family of kinds one
call answers, and the embedded estate counts its reads as the real APIs would cost them: one VMM family script per
site, one Resource Graph query per kind per Azure AD directory (a round trip per page of 1,000 rows, at most 300
subscriptions a query), one list per subscription where the directory is not known.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.addresses import Address
from reconciler.core.changes import ResourceChange
from reconciler.core.resources import Observed, Resource
from reconciler.engine import refresh
from reconciler.providers import routing
from reconciler.providers.base import HandlerProvider, HandlerTable, Progress
from reconciler.providers.embedded import reads
from reconciler.providers.embedded.faults import Faults
from reconciler.providers.embedded.provider import EmbeddedProvider
from reconciler.providers.embedded.store import EstateStore, Row


@dataclasses.dataclass
class Counting(Faults):
    calls: list[str] = dataclasses.field(default_factory=list)

    def round_trip(self, what: str, address: Address | None = None) -> None:
        self.calls.append(what)
        super().round_trip(what, address)

    def lists(self, kind: str) -> int:
        """Round trips that listed ``kind`` (the engine also lists the kinds a tenant could hold, to find strays)."""
        return sum(1 for what in self.calls if what.startswith(f"list {kind}"))


# --- a handler backend: the family decides the grouping, the dispatcher splits it ---------------------------------


class _Family:
    """Reads every kind of its family in one call (counted), as a VMM family script does."""

    family = "networks"

    def __init__(self, kinds: frozenset[str], calls: list[tuple[str, ...]]) -> None:
        self.kinds = kinds
        self.calls = calls

    def read_scope(self, resource: Resource) -> str:
        return f"server/{resource.address.scope}"

    def read(self, resources: Sequence[Resource]) -> Mapping[Address, Observed | None]:
        self.calls.append(tuple(sorted({r.kind for r in resources})))
        return {r.address: Observed(r.address, dict(r.desired)) for r in resources}

    def read_one(self, resource: Resource) -> Observed | None:
        return self.read([resource]).get(resource.address)

    def apply(self, change: ResourceChange, resource: Resource, progress: Progress) -> Observed | None:
        raise NotImplementedError


class _PerKind(_Family):
    family = ""  # no family: one call per kind


class _Backend(HandlerProvider):
    name = "test"

    def __init__(self, handlers: Sequence[_Family]) -> None:
        self.table = HandlerTable(self.name, handlers)
        self.kinds = self.table.kinds


def _r(kind: str, name: str, site: str = "west") -> Resource:
    """A resource without a site (so the engine adds no probes for kinds the test backend does not serve)."""
    return Resource(Address(kind, site, name), {"name": name})


def test_a_family_handler_is_read_once_per_scope_whatever_kinds_the_group_holds() -> None:
    family_calls: list[tuple[str, ...]] = []
    kind_calls: list[tuple[str, ...]] = []
    family = _Family(frozenset({"vmm.logical_network", "vmm.network_site"}), family_calls)
    single = _PerKind(frozenset({"vmm.cloud"}), kind_calls)
    backend = _Backend([family, single])
    resources = [
        _r("vmm.logical_network", "PA"),
        _r("vmm.network_site", "PA-1"),
        _r("vmm.network_site", "PA-2"),
        _r("vmm.cloud", "C1"),
        _r("vmm.logical_network", "PA", site="east"),
    ]
    router = routing.only(backend)
    groups = refresh.groups(resources, router)
    assert sorted(g.scope for g in groups) == ["networks server/east", "networks server/west", "vmm.cloud server/west"]
    observed = refresh.read_all(resources, router)
    assert all(observed[r.address] is not None for r in resources)
    # West's family group holds two kinds: the dispatcher gives each handler its kind's resources.
    assert sorted(family_calls) == [("vmm.logical_network",), ("vmm.logical_network",), ("vmm.network_site",)]
    assert kind_calls == [("vmm.cloud",)]


# --- the embedded estate -------------------------------------------------------------------------------------


def _tenant(i: int) -> str:
    return f"tenant-{i:04d}"


def _group(i: int) -> Resource:
    name = f"rg-{i:04d}"
    return Resource(Address("azure.resource_group", _tenant(i), name), {"name": name}, site="west", tenant=_tenant(i))


@pytest.fixture
def estate(tmp_path: Path) -> EstateStore:
    store = EstateStore(tmp_path / "estate.db")
    rows = [Row(_group(i).address, {"name": _group(i).address.name}) for i in range(1, 1_201)]
    store.reset(rows, source="test")
    return store


def _provider(store: EstateStore, directories: reads.Directories) -> tuple[EmbeddedProvider, Counting]:
    faults = Counting()
    return EmbeddedProvider(store, faults, directories), faults


def test_tenants_of_one_directory_are_listed_by_one_paged_query_per_300_subscriptions(estate: EstateStore) -> None:
    tenants = range(1, 1_201)
    shared = reads.Directories.of((_tenant(i), "DIR-A", f"sub-{i:04d}") for i in tenants)
    provider, faults = _provider(estate, shared)
    resources = [_group(i) for i in tenants]
    observed = refresh.read_all(resources, routing.only(provider))
    assert all(observed[r.address] is not None for r in resources)
    scopes = {provider.read_scope(r) for r in resources}
    # 1,200 subscriptions: four queries of 300 (the directory id is compared case-insensitively).
    assert scopes == {f"azure.resource_group directory/dir-a/{batch}" for batch in range(4)}
    assert faults.lists("azure.resource_group") == 4 + 1  # and the site's own groups (the vault's), by subscription


def test_a_query_answering_more_than_a_page_costs_a_round_trip_per_page(estate: EstateStore) -> None:
    assert reads.round_trips("azure.resource_group directory/d/0", 2_001) == 3
    assert reads.round_trips("azure.resource_group directory/d/0", 0) == 1
    assert reads.round_trips("vmm_networks site/west", 50_000) == 1


def test_tenants_in_their_own_directories_cost_a_query_each(estate: EstateStore) -> None:
    own = reads.Directories.of((_tenant(i), f"dir-{i}", f"sub-{i:04d}") for i in range(1, 11))
    provider, faults = _provider(estate, own)
    refresh.read_all([_group(i) for i in range(1, 11)], routing.only(provider))
    assert faults.lists("azure.resource_group") == 10 + 1


def test_without_the_directories_tenants_are_listed_per_subscription(estate: EstateStore) -> None:
    provider, faults = _provider(estate, reads.NO_DIRECTORIES)
    refresh.read_all([_group(i) for i in range(1, 11)], routing.only(provider))
    assert faults.lists("azure.resource_group") == 10 + 1
    assert provider.read_scope(_group(3)) == "azure.resource_group tenant/tenant-0003"


def test_a_vmm_family_is_one_round_trip_per_site(estate: EstateStore) -> None:
    provider, faults = _provider(estate, reads.NO_DIRECTORIES)
    resources = [_r("vmm.logical_network", "PA"), _r("vmm.network_site", "PA-1"), _r("vmm.ip_pool", "Pool")]
    observed = provider.read(resources)
    assert dict(observed) == {r.address: None for r in resources}
    assert faults.calls == ["list vmm.ip_pool, vmm.logical_network, vmm.network_site"]


def test_the_embedded_families_are_the_winrm_providers_scripts() -> None:
    """The embedded estate costs what the WinRM provider costs: its families are that provider's read scripts."""
    from reconciler.providers.winrm import clouds, hosts, networks, ports, switches, vm_networks, vms  # noqa: F401
    from reconciler.providers.winrm.handler import VmmHandler

    def subclasses(cls: type[Any]) -> list[type[Any]]:
        return [sub for direct in cls.__subclasses__() for sub in [direct, *subclasses(direct)]]

    scripts = {c.family: c.family_kinds for c in subclasses(VmmHandler) if c.family}
    assert scripts == dict(reads.VMM_FAMILIES)
