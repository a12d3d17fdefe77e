"""Which backend serves which kind. With no endpoints configured (today: always), the embedded estate
serves every kind; real providers plug in here by kind as they land."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reconciler.core import kinds
from reconciler.providers.base import Provider
from reconciler.providers.embedded import seed
from reconciler.providers.embedded.faults import Faults
from reconciler.providers.embedded.provider import EmbeddedProvider
from reconciler.providers.embedded.store import EstateStore


@dataclass
class Backends:
    by_kind: dict[str, Provider]
    embedded: EmbeddedProvider
    estate_db: Path
    initialized: bool  # True when this call created the estate from the shipped file

    def close(self) -> None:
        for provider in {id(p): p for p in self.by_kind.values()}.values():
            provider.close()


def open_backends(estate_db: Path | None = None, faults: Faults | None = None) -> Backends:
    """Open the embedded estate (initialising it from the shipped estate file on first use)."""
    db = seed.database_path(estate_db)
    initialized = False
    if not db.exists():
        seed.init_estate(db)
        initialized = True
    provider = EmbeddedProvider(EstateStore(db), faults or Faults.from_env())
    return Backends(dict.fromkeys(kinds.KINDS, provider), provider, db, initialized)
