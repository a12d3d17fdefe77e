"""The backend table: which backends the environment configures, and the routes through which each serves
its resources (``providers.routing``). With no endpoints configured the embedded estate serves every kind;
a real backend, once configured (``RECONCILER_AZURE=on``, ``RECONCILER_WINRM=on``...), takes over what it
serves and the embedded estate keeps the rest, so one plan can mix both.

Each real backend is one entry of ``BACKENDS``: its package's ``backend.routes`` (``providers.backends``).
Routes are tried in this order, the embedded estate last."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from reconciler.core.resources import Resource
from reconciler.providers.backends import OpenContext
from reconciler.providers.embedded import reads, seed
from reconciler.providers.embedded.faults import Faults
from reconciler.providers.embedded.provider import EmbeddedProvider
from reconciler.providers.embedded.store import EstateStore
from reconciler.providers.routing import Route, Router
from reconciler.spec.loader import SpecSet
from reconciler.store.db import Store

# The real backends, by package under reconciler.providers, in route order.
BACKENDS: tuple[str, ...] = ("azure", "winrm", "vsphere", "bmc")


@dataclass
class Backends:
    router: Router
    embedded: EmbeddedProvider
    estate_db: Path
    initialized: bool  # True when this call created the estate from the shipped file
    store: Store | None = None  # opened for a real provider's ownership ledger

    def close(self) -> None:
        for provider in self.router.providers():
            provider.close()
        if self.store is not None:
            self.store.close()

    def served_by(self) -> dict[str, list[str]]:
        """Kinds per backend name, for messages."""
        return self.router.served_by()


def open_backends(
    estate_db: Path | None = None,
    faults: Faults | None = None,
    *,
    specs: SpecSet | None = None,
    env: dict[str, str] | None = None,
) -> Backends:
    """Open the embedded estate (initialising it from the shipped estate file on first use), and the real
    backends the environment configures (they need the specs: which vault, which subscriptions).
    A bad setting raises ValueError naming the variable."""
    db = seed.database_path(estate_db)
    initialized = False
    if not db.exists():
        seed.init_estate(db)
        initialized = True
    context = OpenContext(specs=specs or SpecSet(), env=os.environ if env is None else env)
    routes: list[Route] = []
    try:
        for name in BACKENDS:
            backend = importlib.import_module(f"reconciler.providers.{name}.backend")
            routes.extend(backend.routes(context))
    except BaseException:
        for route in routes:
            route.provider.close()
        if context.opened_store is not None:
            context.opened_store.close()
        raise
    embedded = EmbeddedProvider(EstateStore(db), faults or Faults.from_env(), _directories(context.specs))
    routes.append(Route("embedded", embedded, embedded.kinds))
    router = Router(routes)
    if len(routes) > 1:  # what a real backend serves is its own to check (the estate's rules, a host's maintenance)
        embedded.serves = lambda address: router.provider(Resource(address, {})) is embedded
    return Backends(router, embedded, db, initialized, context.opened_store)


def _directories(specs: SpecSet) -> reads.Directories:
    """Each tenant's Azure AD directory and subscription (the embedded estate lists them as Resource Graph does)."""
    return reads.Directories.of(
        (name, doc.model.spec.plan.azure.tenant_id, doc.model.spec.plan.azure.subscription_id)
        for name, doc in specs.tenants.items()
    )
