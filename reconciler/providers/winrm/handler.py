"""The shape of a VMM kind handler: the provider's ``KindHandler`` (``providers.base``) in VMM's terms.

Every VMM kind lives in one VMM server (the site's ``spec.vmm.server``) and is read through its family's
script, which answers every kind of the family in one run (``session.family``). A subclass says which family
and which part of the answer is its kind (``family``, ``section``), how to normalize one object, whose object it
is (``scope_of``: the site, or the tenant of a cloud or VM network), and how to write one (``put``); the base
turns that into the protocol's ``read``, ``read_one`` and ``apply``: absent as None, a delete only of what the
tool owns, a replace as delete then create, the object read back after a write, and the ownership marker kept
in step with the spec's lifecycle (``description``, or the ledger for objects without a Description).
"""

from __future__ import annotations

import abc
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from reconciler.core import kinds as core_kinds
from reconciler.core.addresses import Address
from reconciler.core.changes import Action, ResourceChange
from reconciler.core.errors import NotFoundError, PermanentError
from reconciler.core.resources import Observed, Resource
from reconciler.providers import ledger as shared_ledger
from reconciler.providers.base import Progress, Step, absent_as_none
from reconciler.providers.ledger import Ledger
from reconciler.providers.winrm import marker
from reconciler.providers.winrm.context import SiteRef, WinRMContext
from reconciler.providers.winrm.jobs import Jobs, jobs_of
from reconciler.providers.winrm.normalize import Normalized
from reconciler.providers.winrm.session import Session


@dataclass(frozen=True)
class Services:
    """What every handler of one provider shares."""

    session: Session
    jobs: Jobs
    ledger: Ledger

    @property
    def context(self) -> WinRMContext:
        return self.session.context


def version(n: Normalized) -> str:
    """A digest of what the engine compares (VMM objects have no etag): a saved plan is refused when it moved."""
    digest = json.dumps({"data": n.data, "marker": n.status.get("marker")}, sort_keys=True, default=str)
    return hashlib.sha256(digest.encode()).hexdigest()[:16]


def observed(address: Address, n: Normalized) -> Observed:
    return Observed(address=address, data=n.data, status=n.status, owned=n.owned, version=version(n))


def ledger_id(site: SiteRef, kind: str, object_id: str) -> str:
    """The ledger's key of a VMM object: its server, kind and VMM ID."""
    return f"vmm://{site.server}/{kind}/{object_id}".casefold()


class VmmHandler(abc.ABC):
    """One VMM kind: its part of its family's read, its single read, its writes."""

    kinds: frozenset[str] = frozenset()
    family: ClassVar[str] = ""  # the family's script (vmm_networks): reads and writes
    family_kinds: ClassVar[frozenset[str]] = frozenset()  # every kind its read answers
    section: ClassVar[str] = ""  # where this kind's objects are in the read's answer
    ledgered: ClassVar[bool] = False  # ownership in the ledger: the object has no Description
    replaceable: ClassVar[bool] = True  # a replace may delete then create (VMM refuses what is in use)

    def __init__(self, services: Services) -> None:
        self.session = services.session
        self.jobs = services.jobs
        self.ledger = services.ledger
        self.context = services.context

    @property
    def kind(self) -> str:
        return next(iter(self.kinds))

    @property
    def title(self) -> str:
        return core_kinds.info(self.kind).title

    @abc.abstractmethod
    def normalize(self, obj: Mapping[str, Any]) -> Normalized:
        """The script's object of this kind, normalized (``normalize.py``)."""

    @abc.abstractmethod
    def put(self, resource: Resource, step: Step, report: Progress, seen: Normalized | None) -> None:
        """Create or update the object to the spec; ``seen`` is it as it is now (None: absent). Idempotent."""

    # --- where --------------------------------------------------------------------------------------------

    def site(self, resource: Resource) -> SiteRef:
        return self.context.site(resource.site) if resource.site else self.context.site_of(resource.address.scope)

    def read_scope(self, resource: Resource) -> str:
        return f"vmm/{self.site(resource).server.casefold()}"

    def scope_of(self, site: SiteRef, n: Normalized) -> str | None:
        """Whose object ``n`` is (None: no scope of the specs): the site's, for the fabric."""
        return site.name

    # --- reading -----------------------------------------------------------------------------------------------

    def found(self, site: SiteRef, answer: Mapping[str, Any]) -> list[Normalized]:
        """This kind's objects in a read's answer, normalized, with their ledger marks."""
        objects = answer.get(self.section) or []
        found = [self.normalize(o) for o in (objects if isinstance(objects, list) else [objects]) if o]
        if self.ledgered and found:
            markers = self.ledger.lookup(ledger_id(site, self.kind, n.id) for n in found)
            for n in found:
                mark = markers.get(ledger_id(site, self.kind, n.id))
                if mark is not None:
                    n.owned = True
                    n.status["marker"] = {"managedBy": marker.TOOL, "prune": mark.prune, "protect": mark.protect}
        return found

    def read(self, resources: Sequence[Resource]) -> dict[Address, Observed | None]:
        """The bulk read: this kind's part of its family's one script run on the VMM server."""
        site = self.site(resources[0])
        answer = self.session.family(site, self.family, kind=self.kind, kinds=self.family_kinds)
        return self.match(resources, self.found(site, answer), site)

    def current(self, resource: Resource) -> Normalized | None:
        """The object as it is now, read by name (the family's script, this kind and name only)."""
        site = self.site(resource)
        data = {"operation": "read", "kinds": [self.kind], "names": [resource.address.name]}
        with absent_as_none():
            output = self.session.vmm(site, self.family, data)
            answer = output[0] if output and isinstance(output[0], Mapping) else {}
            for n in self.found(site, answer):
                if n.name.casefold() == resource.address.name.casefold() and self.claims(site, resource, n):
                    return n
        return None

    def claims(self, site: SiteRef, resource: Resource, n: Normalized) -> bool:
        """Whether ``n`` is the object of ``resource`` (names may repeat across tenants)."""
        scope = self.scope_of(site, n)
        return scope is None or scope == resource.address.scope

    def read_one(self, resource: Resource) -> Observed | None:
        n = self.current(resource)
        return observed(resource.address, n) if n is not None else None

    def match(
        self, resources: Sequence[Resource], found: list[Normalized], site: SiteRef
    ) -> dict[Address, Observed | None]:
        """Each asked resource's object (by scope and name); the objects nobody asked for only when the tool owns
        them and they belong to a scope asked about (VMM holds much that is not the tool's)."""
        scopes = {r.address.scope for r in resources}
        by_key: dict[tuple[str, str], Normalized] = {}
        for n in found:
            scope = self.scope_of(site, n)
            if scope is not None:
                by_key.setdefault((scope, n.name.casefold()), n)
        out: dict[Address, Observed | None] = {}
        for r in resources:
            hit = by_key.pop((r.address.scope, r.address.name.casefold()), None)
            out[r.address] = observed(r.address, hit) if hit is not None else None
        for (scope, _), n in by_key.items():
            if scope in scopes and self.reports_unasked(n):
                address = Address(self.kind, scope, n.name)
                out.setdefault(address, observed(address, n))
        return out

    def reports_unasked(self, n: Normalized) -> bool:
        return n.owned

    # --- writing ---------------------------------------------------------------------------------------------------

    def apply(self, change: ResourceChange, resource: Resource, progress: Progress) -> Observed | None:
        if change.action is Action.DELETE:
            self.delete(resource, progress, pruning=True)
            return None
        if change.action is Action.ADOPT:
            self.adopt(resource, progress)
            return self._read_back(resource)
        if change.action is Action.REPLACE:
            if not self.replaceable:
                raise PermanentError(f"{change.address}: {change.reason}; it cannot be replaced", code="ReplaceRefused")
            self.delete(resource, progress, pruning=False)
        self.put(resource, Step(change), progress, self.current(resource))
        return self._read_back(resource)

    def _read_back(self, resource: Resource) -> Observed:
        seen = self.read_one(resource)
        if seen is None:
            raise PermanentError(f"{resource.address} was written but does not read back", code="NotReadBack")
        return seen

    def adopt(self, resource: Resource, report: Progress) -> None:
        """Mark an object made outside the tool as the tool's, with the spec's lifecycle, and change nothing else:
        the marker line added to its Description (its text kept), or a ledger record for an object without one."""
        seen = self.current(resource)
        if seen is None:
            raise NotFoundError(f"{resource.address} does not exist: nothing to adopt", code="NotFound")
        if seen.owned:
            return
        if self.ledgered:
            self.ledger.record(ledger_id(self.site(resource), self.kind, seen.id), shared_ledger.marker(resource))
            return
        text = self.description(resource, None, seen.text)
        data = {"operation": "describe", "kind": self.kind, "id": seen.id, "description": text}
        self.write(self.site(resource), data, f"adopt {self.title} {seen.name}", report)

    def delete(self, resource: Resource, report: Progress, *, pruning: bool) -> None:
        """Remove the object; when pruning, only if the tool owns it. ``pruning`` False: a replace's first half."""
        seen = self.current(resource)
        if seen is None:
            return
        if pruning and not seen.owned:
            raise PermanentError(f"{resource.address} was not created by reconciler: not deleting it", code="NotOwned")
        site = self.site(resource)
        data = {"operation": "remove", "kind": self.kind, "id": seen.id, "name": seen.name}
        self.write(site, data, f"delete {self.title} {seen.name}", report)
        if self.ledgered:
            self.ledger.forget(ledger_id(site, self.kind, seen.id))

    def write(self, site: SiteRef, data: Mapping[str, Any], what: str, report: Progress) -> dict[str, Any]:
        """Run a write of the family's script and wait for the VMM jobs it started."""
        result = self.session.write(site, self.family, data)
        self.jobs.wait(site, jobs_of(result), what, report)
        return result

    def set(self, resource: Resource, step: Step, report: Progress, data: Mapping[str, Any]) -> dict[str, Any]:
        """The usual create-or-update: run ``data`` (a ``set_...`` operation) and say what it does."""
        verb = "create" if step.create else "update"
        return self.write(self.site(resource), data, f"{verb} {self.title} {resource.address.name}", report)

    def description(self, resource: Resource, seen: Normalized | None, text: str = "") -> str | None:
        """The Description to write: with the tool's marker on what it creates and on what it owns (in step with
        the spec's lifecycle); None leaves someone else's object's Description as it is."""
        if seen is not None and not seen.owned:
            return None
        return marker.describe(
            text, scope=resource.address.scope, prune=resource.policy.prune, protect=resource.policy.protect
        )

    def own(self, resource: Resource, seen: Normalized | None, object_id: str) -> None:
        """Record in the ledger that the tool created (or still owns) ``object_id``: for objects without a
        Description. Someone else's object stays theirs."""
        if object_id and (seen is None or seen.owned):
            self.ledger.record(ledger_id(self.site(resource), self.kind, object_id), shared_ledger.marker(resource))


def existing_id(seen: Normalized | None) -> str | None:
    return seen.id if seen is not None and seen.id else None
