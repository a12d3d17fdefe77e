"""The provider protocol: the narrow boundary between the engine and a live system.

``read`` is bulk: the engine hands it the resources of ONE kind and scope, and the provider answers
with one API round trip (one PowerShell script, one Azure list call). ``apply`` acts on one change and
must be idempotent: it is only called after the engine re-read the object and re-planned it, but a
retried call may still find its work done."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from reconciler.core.addresses import Address
from reconciler.core.changes import ResourceChange
from reconciler.core.resources import Observed, Resource


@runtime_checkable
class Provider(Protocol):
    name: str
    kinds: frozenset[str]

    def read(self, resources: Sequence[Resource]) -> Mapping[Address, Observed | None]:
        """The live objects for ``resources`` (all of one kind and scope); None where absent."""
        ...

    def apply(self, change: ResourceChange, resource: Resource) -> Observed | None:
        """Carry out ``change``; the object as it now is (None after a delete)."""
        ...

    def close(self) -> None: ...
