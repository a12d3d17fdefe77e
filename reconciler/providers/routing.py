"""Which backend serves which resource: a table of routes, consulted per resource, not per kind.

One site can hold Hyper-V hosts (power plan and maintenance through VMM over WinRM) and ESXi hosts (through
vCenter), each host with its own BMC backend; one kind can therefore be served by several backends at once.
A route names a backend, the kinds it serves, and optionally which resources of those kinds (``selects``).
Routes are tried in order, first match wins; ``providers.registry`` puts the configured real backends first
and the embedded estate last, so it serves whatever no real backend claims.

Most kinds have one unconditional route: those are answered from a per-kind table (a plan routes tens of
thousands of resources)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from reconciler.core.errors import PermanentError
from reconciler.core.resources import Resource
from reconciler.providers.base import Provider

Selector = Callable[[Resource], bool]


@dataclass(frozen=True)
class Route:
    """``provider`` serves the resources of ``kinds`` that ``selects`` accepts (all of them when None).
    ``backend`` names the route in messages (``winrm VMM01``, ``redfish``, ``embedded``)."""

    backend: str
    provider: Provider
    kinds: frozenset[str]
    selects: Selector | None = None
    describe: str = ""  # what ``selects`` picks, for messages ("hosts with platform vsphere")


class Router:
    """Routes in order; the first that serves a resource serves it."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes: tuple[Route, ...] = tuple(routes)
        self._by_kind: dict[str, tuple[Route, ...]] = {}
        for route in self.routes:
            for kind in route.kinds:
                self._by_kind[kind] = (*self._by_kind.get(kind, ()), route)
        # A kind whose first route takes every resource never needs the resource to decide.
        self._fixed: dict[str, Provider] = {
            kind: routes[0].provider for kind, routes in self._by_kind.items() if routes[0].selects is None
        }

    def provider(self, resource: Resource) -> Provider:
        """The provider serving ``resource``; PermanentError when no backend does."""
        fixed = self._fixed.get(resource.kind)
        if fixed is not None:
            return fixed
        for route in self._by_kind.get(resource.kind, ()):
            if route.selects is None or route.selects(resource):
                return route.provider
        raise PermanentError(f"no backend is configured for {resource.address}", code="NoBackend")

    def for_kind(self, kind: str) -> Sequence[Provider]:
        """Every provider that serves some resources of ``kind``, in route order."""
        return _distinct(route.provider for route in self._by_kind.get(kind, ()))

    def providers(self) -> Sequence[Provider]:
        """Every provider of the table once, in route order (to close them)."""
        return _distinct(route.provider for route in self.routes)

    def served_by(self) -> dict[str, list[str]]:
        """Kinds per backend, for messages: ``{"azure": [...], "embedded": [...]}``; a conditional route's
        kinds carry what it selects."""
        out: dict[str, list[str]] = {}
        for route in self.routes:
            label = f" ({route.describe})" if route.selects is not None and route.describe else ""
            out.setdefault(route.backend, []).extend(f"{kind}{label}" for kind in sorted(route.kinds))
        return out


def only(provider: Provider) -> Router:
    """A table of one backend serving all its kinds (tests, benchmarks, a single-backend run)."""
    return Router([Route(provider.name, provider, provider.kinds)])


def _distinct(providers: Iterable[Provider]) -> list[Provider]:
    return list({id(p): p for p in providers}.values())
