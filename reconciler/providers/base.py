"""The provider protocol: the narrow boundary between the engine and a live system.

``read`` is bulk: the engine hands it the resources of ONE read scope (``read_scope``: what one call lists and
where, e.g. the clouds of a VMM server, a kind family's read script on it, the resource groups of an Azure AD
directory), and the provider answers with one API round trip (one PowerShell script, one Azure list call or
paged query). A scope names the kind it lists, or the family of kinds one call answers together.
``apply`` acts on one change and must be
idempotent: it is only called after the engine re-read the object and re-planned it, but a retried call
may still find its work done. ``read_one`` is the re-read before each step: by default the bulk read of
just that resource, overridden where one GET is cheaper than a scope-wide list.

Foreign errors are mapped at each provider's boundary into ``core.errors``: temporary (retried, honouring
retry-after), permanent, and ``NotFoundError`` for an object that does not exist, which a read turns
into None (:func:`absent_as_none`). Which provider serves which resource is ``providers.routing``'s job.

Inside a backend, kinds come in families that share API calls (Azure's vault-wide ASR lists, a VMM server's
PowerShell scripts). A backend is a thin dispatcher over one ``KindHandler`` per family or kind: each handler
owns its kinds' bulk read, single read and apply, and a ``HandlerTable`` sends every call to the one handler
of the resource's kind (docs/adding-a-provider.md).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from reconciler.core.addresses import Address
from reconciler.core.changes import Action, ActionReason, ResourceChange
from reconciler.core.errors import NotFoundError, PermanentError
from reconciler.core.resources import Observed, Resource

Progress = Callable[[str], None]


@runtime_checkable
class Provider(Protocol):
    name: str
    kinds: frozenset[str]

    def read_scope(self, resource: Resource) -> str:
        """What one bulk read covering this resource lists, and where: its kind (or the family of kinds one call
        answers) and its API scope (a VMM server, a vault, a subscription, a directory). The engine reads each
        read scope with one call, so resources of different kinds share a scope only when one call reads them."""
        ...

    def read(self, resources: Sequence[Resource]) -> Mapping[Address, Observed | None]:
        """The live objects for ``resources`` (all of one read scope); None where absent.
        The answer may also hold objects nobody asked for that the same list call returned, in the
        resources' own scopes: the engine uses them to find what the specs no longer declare."""
        ...

    def read_one(self, resource: Resource) -> Observed | None:
        """The live object right before a step changes it (None: absent)."""
        ...

    def apply(self, change: ResourceChange, resource: Resource, progress: Progress | None = None) -> Observed | None:
        """Carry out ``change``; the object as it now is (None after a delete). Long-running jobs are
        waited on here (bounded by the provider's job timeout), reporting through ``progress``."""
        ...

    def close(self) -> None: ...


class BaseProvider(abc.ABC):
    """What every backend shares: a context-manager lifecycle and a ``read_one`` that re-reads one
    resource through the bulk read. Subclasses set ``name`` and ``kinds`` and implement the rest."""

    name: str = ""
    kinds: frozenset[str] = frozenset()

    @abc.abstractmethod
    def read_scope(self, resource: Resource) -> str: ...

    @abc.abstractmethod
    def read(self, resources: Sequence[Resource]) -> Mapping[Address, Observed | None]: ...

    @abc.abstractmethod
    def apply(
        self, change: ResourceChange, resource: Resource, progress: Progress | None = None
    ) -> Observed | None: ...

    def read_one(self, resource: Resource) -> Observed | None:
        """The bulk read of just ``resource``: override where a single GET is cheaper than the list."""
        with absent_as_none():
            return self.read([resource]).get(resource.address)
        return None

    def close(self) -> None:  # noqa: B027 (a hook: most backends have nothing to release)
        """Release connections and sessions; the default has none."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass(frozen=True)
class Step:
    """What a handler's write needs to know of the planned change (decided by the planner, never re-inferred
    from which fields differ)."""

    change: ResourceChange

    @property
    def create(self) -> bool:
        """Create the object: the change creates it, or is the second half of a replace."""
        return self.change.action in (Action.CREATE, Action.REPLACE)

    @property
    def lifecycle_only(self) -> bool:
        """An update that only rewrites the ownership marker: the object already matches the spec."""
        return self.change.action_reason is ActionReason.LIFECYCLE


def absent_as_none() -> AbstractContextManager[None]:
    """Inside a read: a ``NotFoundError`` (the object or its parent is missing) ends the block quietly, and
    the caller's default (None, an empty list) stands. The one place where "absent" is decided."""
    return suppress(NotFoundError)


class KindHandler(Protocol):
    """What a backend's dispatcher hands a resource to: the provider protocol for the handler's ``kinds``, with
    ``progress`` always given (the dispatcher supplies a silent one)."""

    kinds: frozenset[str]

    def read_scope(self, resource: Resource) -> str: ...

    def read(self, resources: Sequence[Resource]) -> Mapping[Address, Observed | None]: ...

    def read_one(self, resource: Resource) -> Observed | None: ...

    def apply(self, change: ResourceChange, resource: Resource, progress: Progress) -> Observed | None: ...


class HandlerTable:
    """Kind -> the one handler serving it: a backend's dispatch table. Two handlers claiming one kind is a
    programming error, refused when the table is built."""

    def __init__(self, backend: str, handlers: Iterable[KindHandler]) -> None:
        self.backend = backend
        self.handlers: tuple[KindHandler, ...] = tuple(handlers)
        self._by_kind: dict[str, KindHandler] = {}
        for handler in self.handlers:
            for kind in handler.kinds:
                other = self._by_kind.setdefault(kind, handler)
                if other is not handler:
                    raise ValueError(
                        f"{backend}: {kind} has two handlers, {type(other).__name__} and {type(handler).__name__}"
                    )

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._by_kind)

    def read_family(self, kind: str) -> str:
        """What a read scope names for ``kind``: its handler's ``family`` when the handler's one read answers every
        kind of a family (a VMM server's family script), else the kind itself."""
        family = getattr(self[kind], "family", "")
        return family if isinstance(family, str) and family else kind

    def __getitem__(self, kind: str) -> KindHandler:
        handler = self._by_kind.get(kind)
        if handler is None:
            raise PermanentError(f"the {self.backend} backend has no handler for {kind}", code="NoHandler")
        return handler


def _silent(_message: str) -> None:
    """Progress nobody listens to."""


class HandlerProvider(BaseProvider):
    """A backend that is a dispatcher over kind handlers (docs/adding-a-provider.md): a subclass builds
    ``self.table`` in its constructor; reading and applying go to the handler of the resource's kind."""

    table: HandlerTable

    def read_scope(self, resource: Resource) -> str:
        """The handler's scope (where), named by the kind or the handler's family (what)."""
        return f"{self.table.read_family(resource.kind)} {self.table[resource.kind].read_scope(resource)}"

    def read(self, resources: Sequence[Resource]) -> Mapping[Address, Observed | None]:
        """One read scope's resources, each kind to its handler: the kinds of a family share their handlers' one
        call (the family's snapshot), so the group is still one round trip."""
        by_kind: dict[str, list[Resource]] = {}
        for r in resources:
            by_kind.setdefault(r.kind, []).append(r)
        if len(by_kind) == 1:
            return self.table[resources[0].kind].read(resources)
        out: dict[Address, Observed | None] = {}
        for kind, members in by_kind.items():
            out.update(self.table[kind].read(members))
        return out

    def read_one(self, resource: Resource) -> Observed | None:
        return self.table[resource.kind].read_one(resource)

    def apply(self, change: ResourceChange, resource: Resource, progress: Progress | None = None) -> Observed | None:
        return self.table[resource.kind].apply(change, resource, progress or _silent)
