"""What every real backend offers the registry: ``routes(context) -> [Route]``. Each backend package has a
``backend.py`` with a ``routes`` function that reads its settings from the environment, returns no routes when
it is not configured (cheaply: its SDK is imported only once it is on), raises ValueError naming the variable
on a bad setting, and otherwise opens its provider and says what it serves (``providers.routing.Route``).

``host_selector`` builds the usual per-host selection: the hosts of the specs' sites that match a test (their
platform, whether they have a BMC), for the kinds addressed by host (``host.state``, ``host.power_policy``,
``bmc.bios``: ``kind:SITE/HOST``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.resources import Resource
from reconciler.spec.loader import SpecSet
from reconciler.store.db import Store, open_store


@dataclass
class OpenContext:
    """What a backend may need to open: the validated specs (which vault, which VMM server, which hosts),
    the environment, and the shared history store (opened on first use, for an ownership ledger)."""

    specs: SpecSet
    env: Mapping[str, str]
    _store: Store | None = field(default=None, repr=False)

    def store(self) -> Store:
        if self._store is None:
            self._store = open_store()
        return self._store

    @property
    def opened_store(self) -> Store | None:
        return self._store


def host_selector(specs: SpecSet, accept: Callable[[Any], bool]) -> Callable[[Resource], bool]:
    """A route selector for the per-host kinds: the hosts of every Site document that ``accept`` (called
    with the spec's host model) takes, matched by site and case-insensitive name."""
    chosen = {
        (site, host.name.casefold())
        for site, doc in specs.sites.items()
        for host in doc.model.spec.hosts
        if accept(host)
    }
    return lambda resource: (resource.address.scope, resource.address.name.casefold()) in chosen
