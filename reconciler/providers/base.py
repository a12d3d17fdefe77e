"""The provider protocol: the narrow boundary between the engine and a live system.

``read`` is bulk: the engine hands it the resources of ONE kind and read scope (``read_scope``: the
VMM server, the vault, the subscription a list call covers), and the provider answers with one API
round trip (one PowerShell script, one Azure list call). ``apply`` acts on one change and
must be idempotent: it is only called after the engine re-read the object and re-planned it, but a
retried call may still find its work done."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from reconciler.core.addresses import Address
from reconciler.core.changes import ResourceChange
from reconciler.core.resources import Observed, Resource


@runtime_checkable
class Provider(Protocol):
    name: str
    kinds: frozenset[str]

    def read_scope(self, resource: Resource) -> str:
        """The API scope one bulk read covers for this resource (a VMM server, a vault, a subscription):
        the engine reads each (kind, read scope) group with one call."""
        ...

    def read(self, resources: Sequence[Resource]) -> Mapping[Address, Observed | None]:
        """The live objects for ``resources`` (all of one kind and read scope); None where absent.
        The answer may also hold objects nobody asked for that the same list call returned, in the
        resources' own scopes: the engine uses them to find what the specs no longer declare."""
        ...

    def apply(
        self, change: ResourceChange, resource: Resource, progress: Callable[[str], None] | None = None
    ) -> Observed | None:
        """Carry out ``change``; the object as it now is (None after a delete). Long-running jobs are
        waited on here (bounded by the provider's job timeout), reporting through ``progress``."""
        ...

    def close(self) -> None: ...


# Optional: ``read_one(resource) -> Observed | None``. The engine re-reads each object right before it
# changes it; a provider whose bulk read is costly for one object (a vault-wide list) offers a single-object
# read, and the applier uses it when present (see ``engine/applier._read_one``).
