"""The backend table: which backends the environment configures, and the routes through which each serves
its resources (``providers.routing``). With no endpoints configured the embedded estate serves every kind;
a real backend, once configured (``RECONCILER_AZURE=on``), takes over what it serves and the embedded estate
keeps the rest, so one plan can mix both."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reconciler.providers.azure.context import AzureContext
from reconciler.providers.azure.settings import AzureSettings
from reconciler.providers.embedded import seed
from reconciler.providers.embedded.faults import Faults
from reconciler.providers.embedded.provider import EmbeddedProvider
from reconciler.providers.embedded.store import EstateStore
from reconciler.providers.routing import Route, Router
from reconciler.spec.loader import SpecSet
from reconciler.store.db import Store, open_store


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
    azure = AzureSettings.from_env(env)
    db = seed.database_path(estate_db)
    initialized = False
    if not db.exists():
        seed.init_estate(db)
        initialized = True
    embedded = EmbeddedProvider(EstateStore(db), faults or Faults.from_env())
    routes: list[Route] = []
    store: Store | None = None
    if azure is not None:
        from reconciler.providers.azure.provider import KINDS as AZURE_KINDS
        from reconciler.providers.azure.provider import AzureProvider

        store = open_store()
        real = AzureProvider(azure, AzureContext.from_specs(specs or SpecSet()), store=store)
        routes.append(Route("azure", real, AZURE_KINDS))
    routes.append(Route("embedded", embedded, embedded.kinds))
    return Backends(Router(routes), embedded, db, initialized, store)
