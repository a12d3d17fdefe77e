"""What discovery found: every live object per (scope, kind), read through each backend that can list
(``providers.discovery.Discoverer``), in parallel, one list call per (kind, scope) and backend."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from reconciler.core import kinds
from reconciler.core.addresses import Address
from reconciler.core.resources import Observed
from reconciler.providers.discovery import Discoverer, Scope
from reconciler.providers.routing import Router

DEFAULT_CONCURRENCY = 8


@dataclass
class Live:
    """The live objects of each scope by kind (names as the systems spell them)."""

    objects: dict[tuple[str, str], list[Observed]] = field(default_factory=dict)
    unlisted: set[str] = field(default_factory=set)  # kinds no configured backend can list

    def of(self, scope: str, kind: str) -> list[Observed]:
        return self.objects.get((scope, kind), [])

    def data(self, scope: str, kind: str) -> list[dict[str, Any]]:
        return [o.data for o in self.of(scope, kind)]

    def named(self, scope: str, kind: str, name: str) -> Observed | None:
        return next((o for o in self.of(scope, kind) if o.address.name.casefold() == name.casefold()), None)

    def marked(self, item: dict[str, Any], scope: str, kind: str, name: str) -> dict[str, Any]:
        """``item`` with the ``lifecycle`` (protect, prune) the tool's ownership marker on its object records:
        re-importing what the tool manages keeps what it was applied with."""
        found = self.named(scope, kind, name)
        marker = found.status.get("marker") if found is not None and found.owned else None
        if isinstance(marker, dict):
            lifecycle = {key: True for key in ("protect", "prune") if marker.get(key)}
            if lifecycle:
                item["lifecycle"] = {**item.get("lifecycle", {}), **lifecycle}
        return item

    def addresses(self) -> set[Address]:
        return {o.address for found in self.objects.values() for o in found}


def discover(
    router: Router,
    scopes: Sequence[Scope],
    *,
    wanted: Iterable[str] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> Live:
    """Every object of each kind (``wanted``, default all but inventory other than hosts) in each scope, from
    every backend serving the kind that can list it; the first backend in route order wins an address."""
    chosen = [k for k in (wanted or kinds.KINDS) if k in kinds.KINDS]
    jobs = [(scope, kind) for scope in scopes for kind in chosen if scope.kind.value in kinds.info(kind).scopes]
    live = Live()
    listers = {kind: [p for p in router.for_kind(kind) if isinstance(p, Discoverer)] for kind in chosen}
    live.unlisted = {kind for kind, found in listers.items() if not found}

    def one(job: tuple[Scope, str]) -> tuple[tuple[str, str], list[Observed]]:
        scope, kind = job
        merged: dict[Address, Observed] = {}
        for provider in listers[kind]:
            for o in provider.discover(kind, scope):
                merged.setdefault(o.address, o)
        return (scope.name, kind), sorted(merged.values(), key=lambda o: o.address.name.casefold())

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for key, found in pool.map(one, [j for j in jobs if listers[j[1]]]):
            if found:
                live.objects[key] = found
    return live
