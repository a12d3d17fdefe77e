"""Discovery: what a backend holds in a scope, whether or not a spec declares it. ``reconciler import`` starts
from it (``engine.inverse``); ``plan`` never needs it (a plan reads what the specs declare, plus the tool's own
objects the same list calls return).

A backend that can list a kind's objects in a site's or a tenant's scope implements :class:`Discoverer` next to
its ``read``: one list call per (kind, scope), the objects normalized exactly as ``read`` normalizes them, keyed by
the addresses a spec would give them. The embedded estate, the Azure provider and the WinRM provider (VMM, Hyper-V
hosts) do; the vSphere and BMC backends would plug in the same way. A backend without it is skipped by import,
which then says which kinds nothing could list."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from reconciler.core.resources import Observed


class ScopeKind(enum.StrEnum):
    SITE = "site"
    TENANT = "tenant"


@dataclass(frozen=True)
class Scope:
    """A site (its own objects) or a tenant (on ``site``): what one discovery covers."""

    kind: ScopeKind
    name: str
    site: str

    @property
    def tenant(self) -> str | None:
        return self.name if self.kind is ScopeKind.TENANT else None

    def __str__(self) -> str:
        return f"{self.kind.value}/{self.name}"


@runtime_checkable
class Discoverer(Protocol):
    """A backend that can list what exists."""

    def discover(self, kind: str, scope: Scope) -> Sequence[Observed]:
        """Every live object of ``kind`` in ``scope`` (none: an empty list), addressed ``kind:SCOPE/NAME``, owned or
        not. ``NotFoundError`` never escapes: a missing parent (vault, resource group) is an empty scope."""
        ...
