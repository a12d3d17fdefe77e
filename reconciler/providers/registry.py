"""Which backend serves which kind. With no endpoints configured the embedded estate serves every kind;
a real provider, once configured (``RECONCILER_AZURE=on``), takes over its kinds and the embedded estate
keeps the rest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reconciler.core import kinds
from reconciler.providers.azure.context import AzureContext
from reconciler.providers.azure.settings import AzureSettings
from reconciler.providers.base import Provider
from reconciler.providers.embedded import seed
from reconciler.providers.embedded.faults import Faults
from reconciler.providers.embedded.provider import EmbeddedProvider
from reconciler.providers.embedded.store import EstateStore
from reconciler.spec.loader import SpecSet
from reconciler.store.db import Store, open_store


@dataclass
class Backends:
    by_kind: dict[str, Provider]
    embedded: EmbeddedProvider
    estate_db: Path
    initialized: bool  # True when this call created the estate from the shipped file
    store: Store | None = None  # opened for a real provider's ownership ledger

    def close(self) -> None:
        for provider in {id(p): p for p in [*self.by_kind.values(), self.embedded]}.values():
            provider.close()
        if self.store is not None:
            self.store.close()

    def served_by(self) -> dict[str, list[str]]:
        """Kinds per backend name, for messages."""
        out: dict[str, list[str]] = {}
        for kind, provider in self.by_kind.items():
            out.setdefault(provider.name, []).append(kind)
        return out


def open_backends(
    estate_db: Path | None = None,
    faults: Faults | None = None,
    *,
    specs: SpecSet | None = None,
    env: dict[str, str] | None = None,
) -> Backends:
    """Open the embedded estate (initialising it from the shipped estate file on first use), and the real
    providers the environment configures (they need the specs: which vault, which subscriptions).
    A bad setting raises ValueError naming the variable."""
    azure = AzureSettings.from_env(env)
    db = seed.database_path(estate_db)
    initialized = False
    if not db.exists():
        seed.init_estate(db)
        initialized = True
    provider = EmbeddedProvider(EstateStore(db), faults or Faults.from_env())
    backends = Backends(dict.fromkeys(kinds.KINDS, provider), provider, db, initialized)
    if azure is not None:
        from reconciler.providers.azure.provider import KINDS as AZURE_KINDS
        from reconciler.providers.azure.provider import AzureProvider

        backends.store = open_store()
        real = AzureProvider(azure, AzureContext.from_specs(specs or SpecSet()), store=backends.store)
        backends.by_kind.update(dict.fromkeys(AZURE_KINDS, real))
    return backends
