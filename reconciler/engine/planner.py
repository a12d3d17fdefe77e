"""The planner: pure. Desired resources plus what providers observed in, a ``Plan`` out.

No I/O, no clock (the caller passes ``created_at``), no randomness: the same input always plans the
same changes, which is what makes fixture tests and saved plans trustworthy."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core import jsontext, kinds
from reconciler.core.addresses import Address
from reconciler.core.changes import Action, ActionReason, FieldChange, NoopReason, Plan, ResourceChange
from reconciler.core.diagnostics import Diagnostic
from reconciler.core.resources import Mode, Observed, Resource
from reconciler.engine.diff import field_changes
from reconciler.engine.graph import Graph


def plan_one(resource: Resource, observed: Observed | None, *, unfinished: str = "") -> ResourceChange:
    """The change one resource needs, given its live object (None: it does not exist). ``unfinished``
    describes a procedure an earlier apply left half done on it (from the journal): an object otherwise in
    sync is then still a change (resume), and the reason says what was left."""
    base: dict[str, Any] = {
        "address": resource.address,
        "after": dict(resource.desired),
        "depends_on": resource.depends_on,
        "site": resource.site,
        "tenant": resource.tenant,
        "policy": resource.policy,
    }
    if observed is None:
        return _absent(resource, base)
    return _present(resource, observed, base, unfinished)


def _absent(resource: Resource, base: dict[str, Any]) -> ResourceChange:
    """No live object: create it, unless the kind is configure-only (an error) or the resource observe-only."""
    if not resource.policy.creatable:
        info = kinds.info(resource.kind)
        return ResourceChange(
            action=Action.NOOP,
            before=None,
            noop_reason=NoopReason.MISSING_UNMANAGED,
            error=missing_error(resource),
            reason=f"{info.noun or info.title} not found",
            **base,
        )
    if resource.policy.mode is Mode.OBSERVE:
        return ResourceChange(
            action=Action.NOOP,
            before=None,
            noop_reason=NoopReason.OBSERVE_ONLY,
            reason="missing, but observe-only: not created",
            **base,
        )
    return ResourceChange(
        action=Action.CREATE, action_reason=ActionReason.CREATE, before=None, reason="does not exist", **base
    )


def _present(resource: Resource, observed: Observed, base: dict[str, Any], unfinished: str) -> ResourceChange:
    """A live object: resume, adopt, nothing, or the fields to change (``_changed``)."""
    info = kinds.info(resource.kind)
    observe = resource.policy.mode is Mode.OBSERVE
    fields = field_changes(info, resource.desired, observed.data, resource.policy.ignore_fields)
    common = {**base, "before": dict(observed.data), "observed_version": observed.version}
    resume = unfinished or str(observed.status.get("resume") or "")
    if resume and not observe:
        common["unfinished"] = resume
    if not fields and resume and not observe:
        # An interrupted apply left a procedure half done (a VM it stopped, a host it put in maintenance).
        return ResourceChange(
            action=Action.UPDATE,
            action_reason=ActionReason.RESUME,
            reason=f"an interrupted apply left this unfinished: {resume}",
            **common,
        )
    if resource.policy.adopt and not observe and info.creatable and not observed.owned:
        return _adoption(resource, fields, common)
    lifecycle_only = False
    if not observe:
        lifecycle = _lifecycle_drift(resource, observed)
        if not fields:
            fields, lifecycle_only = lifecycle, bool(lifecycle)
        else:  # the write rewrites the marker anyway; a lost one is worth showing
            fields += tuple(f for f in lifecycle if f.path == MARKER_FIELD)
    if not fields:
        ignored = resource.policy.ignore_fields and field_changes(info, resource.desired, observed.data)
        return ResourceChange(
            action=Action.NOOP,
            noop_reason=NoopReason.IGNORED_FIELDS if ignored else NoopReason.IN_SYNC,
            reason="differs only in ignored fields" if ignored else "in sync",
            **common,
        )
    return _changed(resource, observed, fields, common, lifecycle_only=lifecycle_only)


def _changed(
    resource: Resource,
    observed: Observed,
    fields: tuple[FieldChange, ...],
    common: dict[str, Any],
    *,
    lifecycle_only: bool,
) -> ResourceChange:
    """Fields differ: reported only (observe-only, or an object someone else owns), replaced (an immutable field)
    or updated in place."""
    info = kinds.info(resource.kind)
    if resource.policy.mode is Mode.OBSERVE:
        return ResourceChange(
            action=Action.NOOP,
            fields=fields,
            noop_reason=NoopReason.OBSERVE_ONLY,
            reason="differs, but observe-only: not changed",
            **common,
        )
    if info.owner_tags and not observed.owned:
        return ResourceChange(
            action=Action.NOOP,
            fields=fields,
            noop_reason=NoopReason.UNOWNED,
            reason="exists without the managed-by=reconciler tag: reported, never changed (adopt it: "
            "lifecycle.adopt in the spec, or reconciler adopt ADDRESS)",
            **common,
        )
    immutable = [f.path for f in fields if f.immutable]
    disruptive = info.disruption(fields, observed.status)
    if immutable:
        # A replace deletes the live object first: a protected one (the provider's vault, a VM's
        # replication) must not go, so the change is planned but refused, like Terraform's prevent_destroy.
        refused = (
            f"{resource.address} is protected (lifecycle.protect) and a replace would delete it: change "
            f"{', '.join(immutable)} by hand, or lift the protection first"
            if resource.policy.protect
            else ""
        )
        return ResourceChange(
            action=Action.REPLACE,
            action_reason=ActionReason.REPLACE,
            fields=fields,
            reason=f"{', '.join(immutable)} cannot change in place",
            disruptive=disruptive,
            error=refused,
            **common,
        )
    return ResourceChange(
        action=Action.UPDATE,
        action_reason=ActionReason.LIFECYCLE if lifecycle_only else ActionReason.UPDATE,
        fields=fields,
        reason=", ".join(f.path for f in fields),
        disruptive=disruptive,
        **common,
    )


OWNERSHIP_FIELD = "ownership"  # the one field an adoption changes: the marker, none -> reconciler


def _adoption(resource: Resource, differs: tuple[FieldChange, ...], common: dict[str, Any]) -> ResourceChange:
    """Take over an object made outside reconciler: write its ownership marker (tags, the ownership ledger, a
    custom property) with the spec's lifecycle, and nothing else. Fields that differ from the spec are named in
    the reason: the next plan, once the object is the tool's, updates them as usual."""
    marker = {"managedBy": "reconciler", "prune": resource.policy.prune, "protect": resource.policy.protect}
    later = (
        f"; differs from the spec in {', '.join(f.path for f in differs)}: the next plan updates it" if differs else ""
    )
    return ResourceChange(
        action=Action.ADOPT,
        action_reason=ActionReason.ADOPT,
        fields=(FieldChange(path=OWNERSHIP_FIELD, old=None, new=marker),),
        reason=f"exists without reconciler's ownership marker: adopted as it is{later}",
        **common,
    )


# The field a lost ownership marker shows as: the object's own marker (its tags) is gone, but the history store
# says the tool created it (a provider's status ``markerLost`` names what is missing).
MARKER_FIELD = "lifecycle.managedBy"
MARKER_LOST = "markerLost"


def missing_error(resource: Resource) -> str:
    """Why a configure-only resource whose object does not exist cannot be planned, and what to do."""
    info = kinds.info(resource.kind)
    what = info.noun or info.title
    where = f" (declared at {resource.source})" if resource.source else ""
    if info.missing:
        return info.missing.format(name=resource.address.name, scope=resource.address.scope) + where
    return f"{what} {resource.address.name!r} does not exist; the tool configures {what}s, it never creates them{where}"


def _lifecycle_drift(resource: Resource, observed: Observed) -> tuple[FieldChange, ...]:
    """An object the tool created carries the lifecycle it was applied with (prune, protect) in its
    ownership marker, and prune trusts the marker once the specs no longer hold the object: a lifecycle
    changed since (protect added, prune lifted) is an update that rewrites the marker. So is a marker someone
    removed from an object the store says the tool created (``status["markerLost"]``)."""
    marker = observed.status.get("marker")
    if not observed.owned or not isinstance(marker, dict):
        return ()
    out: list[FieldChange] = []
    lost = observed.status.get(MARKER_LOST)
    if lost:
        out.append(FieldChange(path=MARKER_FIELD, old=None, new=str(lost)))
    wanted = {"protect": resource.policy.protect, "prune": resource.policy.prune}
    out += [
        FieldChange(path=f"lifecycle.{key}", old=bool(marker.get(key)), new=want)
        for key, want in wanted.items()
        if bool(marker.get(key)) != want
    ]
    return tuple(out)


def orphans(
    resources: Sequence[Resource],
    observed: Mapping[Address, Observed | None],
    *,
    prune: bool,
    targets: Sequence[str] = (),
    excludes: Sequence[str] = (),
) -> list[ResourceChange]:
    """Live objects in a managed scope that no spec declares: deleted only with ``prune``, only when
    the tool created them (ownership marker), only when they were marked prunable and not protected;
    otherwise kept, and the reason says why. Deletes run dependents first (kinds in reverse order).

    ``resources`` must be EVERY resource the specs declare, not only a targeted selection: what the
    selection leaves out is still declared. ``targets``/``excludes`` limit which orphans are considered."""
    declared = {(r.address.kind, r.address.scope, r.address.name.casefold()) for r in resources}
    site_of = {r.tenant: r.site for r in resources if r.tenant}
    out: list[ResourceChange] = []
    for address, seen in observed.items():
        if seen is None or (address.kind, address.scope, address.name.casefold()) in declared:
            continue
        if targets and not any(address.matches(t) for t in targets):
            continue
        if any(address.matches(e) for e in excludes):
            continue
        if address.kind not in kinds.KINDS:
            continue
        info = kinds.info(address.kind)
        if not info.creatable and not info.report_undeclared:
            continue  # hosts' BIOS and power settings: configured only for hosts a profile selects
        why = _kept_because(address, seen, prune=prune)
        tenant = address.scope if address.scope in site_of else None
        common: dict[str, Any] = {
            "address": address,
            "before": dict(seen.data),
            "after": None,
            "site": site_of.get(address.scope, address.scope),
            "tenant": tenant,
            "observed_version": seen.version,
        }
        if why:
            out.append(
                ResourceChange(
                    action=Action.NOOP, noop_reason=NoopReason.NOT_DECLARED, reason=f"not declared; {why}", **common
                )
            )
        else:
            out.append(
                ResourceChange(
                    action=Action.DELETE,
                    action_reason=ActionReason.PRUNE,
                    reason="not declared in the specs; --prune",
                    **common,
                )
            )
    order = {kind: i for i, kind in enumerate(kinds.KINDS)}
    deletes = [c for c in out if c.action is Action.DELETE]

    def waits(c: ResourceChange) -> tuple[Address, ...]:
        """Dependents go first: every delete of a later kind in the same scope (or in any scope, for
        the site's objects that tenants use)."""
        return tuple(
            d.address
            for d in deletes
            if order[d.address.kind] > order[c.address.kind]
            and (d.address.scope == c.address.scope or c.tenant is None)
        )

    ordered = [dataclasses.replace(c, depends_on=waits(c)) if c.action is Action.DELETE else c for c in out]
    return sorted(ordered, key=lambda c: (order.get(c.address.kind, 99), str(c.address)))


def _kept_because(address: Address, seen: Observed, *, prune: bool) -> str:
    """Why an object the specs do not declare stays (empty: it is deleted)."""
    info = kinds.info(address.kind)
    if not info.creatable:
        return f"a {info.noun} no spec names; {info.noun}s are never deleted"
    marker = seen.status.get("marker") if isinstance(seen.status.get("marker"), dict) else None
    if not seen.owned or marker is None:
        return "not created by reconciler (no ownership marker): never deleted"
    if seen.status.get(MARKER_LOST):
        return "created by reconciler, but its ownership marker was removed outside reconciler: never deleted"
    if marker.get("protect"):
        return "protected (lifecycle.protect): never deleted"
    if not marker.get("prune"):
        return "not marked prunable (lifecycle.prune) when it was created"
    if not prune:
        return "would be deleted with --prune"
    return ""


def _refuse_cycles(changes: dict[Address, ResourceChange]) -> None:
    """Mark every pending change on a dependency cycle as an error, naming the cycle (specs never mean one;
    without this check apply would never start those changes)."""
    pending = [c for c in changes.values() if c.is_change and not c.error]
    stuck = Graph(pending).cycle()
    if not stuck:
        return
    shown = " -> ".join(str(a) for a in stuck[:4]) + (" ..." if len(stuck) > 4 else "")
    for address in stuck:
        changes[address] = dataclasses.replace(
            changes[address],
            error=f"dependency cycle: {shown}; fix the specs' references so they do not wait on each other",
        )


def _not_yet(resource: Resource, change: ResourceChange, creating: set[Address]) -> ResourceChange:
    """A configure-only object that cannot exist yet because something it lives in is created by this very plan
    (a VMM server's registration with a vault the plan creates) is blocked, not an error: the rest of the plan
    can go ahead, and the next plan checks it again."""
    if change.noop_reason is not NoopReason.MISSING_UNMANAGED:
        return change
    waiting = next((d for d in resource.depends_on if d in creating), None)
    if waiting is None:
        return change
    return dataclasses.replace(
        change,
        noop_reason=NoopReason.BLOCKED,
        error="",
        reason=f"waits for {waiting}, which this plan creates; then: {change.error}",
    )


def _vacate_first(changes: dict[Address, ResourceChange]) -> None:
    """A replace whose kind must be gone before a dependency of it can change (``KindInfo.vacate_for``): the
    dependency's change deletes it first (``ResourceChange.vacates``) and carries its cost (disruptive)."""
    for c in list(changes.values()):
        info = kinds.info(c.address.kind)
        if c.action is not Action.REPLACE or c.error or not info.vacate_for:
            continue
        for d in c.depends_on:
            dep = changes.get(d)
            if dep is None or dep.error or dep.action not in (Action.UPDATE, Action.REPLACE):
                continue
            if d.kind not in info.vacate_for:
                continue
            cost = f"{info.title} {c.address.name} is deleted before this change and created again after it" + (
                f": {c.disruptive}" if c.disruptive else ""
            )
            changes[d] = dataclasses.replace(
                dep,
                vacates=(*dep.vacates, c.address),
                disruptive="; ".join(x for x in (dep.disruptive, cost) if x),
            )


def _after_users(found: list[ResourceChange], changes: Mapping[Address, ResourceChange]) -> list[ResourceChange]:
    """A pruned object may still be used by something this plan re-points (a policy by the association that
    switches to another): its delete waits for every pending change of a later kind in its scope."""
    order = {kind: i for i, kind in enumerate(kinds.KINDS)}
    pending = [c for c in changes.values() if c.is_change and not c.error]
    out = []
    for c in found:
        if c.action is not Action.DELETE:
            out.append(c)
            continue
        users = tuple(
            p.address
            for p in pending
            if order.get(p.address.kind, -1) > order.get(c.address.kind, 99)
            and (p.address.scope == c.address.scope or c.tenant is None)
        )
        out.append(dataclasses.replace(c, depends_on=(*c.depends_on, *users)) if users else c)
    return out


def _blocks(change: ResourceChange) -> bool:
    return bool(change.error) or change.noop_reason is NoopReason.BLOCKED


def spec_digest(resources: Sequence[Resource]) -> str:
    """A digest of everything that decides what apply does: each resource's desired values and its policy
    (lifecycle: mode, protect, prune, ignored fields; the rollout: its group, maxUnavailable, maintenance
    window), and the tool's version. A saved plan is stale when it changes."""
    import reconciler

    policies: dict[int, str] = {}  # resources share few policies: each is written out once
    for r in resources:
        if id(r.policy) not in policies:
            policies[id(r.policy)] = repr(r.policy)
    # Hashed _DIGEST_CHUNK resources at a time (orjson, sorted keys): the text of the whole set is tens of
    # megabytes at a thousand tenants, never needed at once, and one encoder call per resource costs more than
    # the encoding. The version is in the digest, so the encoding may change between versions.
    keyed = sorted(((str(r.address), r.desired, policies[id(r.policy)]) for r in resources), key=lambda k: k[0])
    digest = hashlib.sha256(jsontext.dumps_bytes(reconciler.__version__))
    for start in range(0, len(keyed), _DIGEST_CHUNK):
        digest.update(b"\n")
        digest.update(jsontext.dumps_bytes(keyed[start : start + _DIGEST_CHUNK], sort_keys=True))
    return digest.hexdigest()


_DIGEST_CHUNK = 1_000


class Pending:
    """Plans resources as their live objects arrive (``feed``), so planning overlaps the reads still
    in flight; :func:`make_plan` then only assembles. Pure like the rest of the planner."""

    def __init__(self, resources: Sequence[Resource], *, unfinished: Mapping[Address, str] | None = None) -> None:
        self._by_address = {r.address: r for r in resources}
        self._unfinished = unfinished or {}
        self.changes: dict[Address, ResourceChange] = {}

    def feed(self, observed: Mapping[Address, Observed | None]) -> None:
        notes = self._unfinished
        for address, seen in observed.items():
            resource = self._by_address.get(address)
            if resource is not None:
                self.changes[address] = plan_one(resource, seen, unfinished=notes.get(address, "") if notes else "")


def make_plan(
    resources: Sequence[Resource],
    observed: Mapping[Address, Observed | None],
    *,
    planned: Pending | None = None,
    created_at: str,
    targets: Sequence[str] = (),
    excludes: Sequence[str] = (),
    diagnostics: Sequence[Diagnostic] = (),
    prune: bool = False,
    digest: str | None = None,
    declared: Sequence[Resource] | None = None,
    unfinished: Mapping[Address, str] | None = None,
) -> Plan:
    """Plan every resource; a resource whose dependency cannot be planned is blocked, not guessed.
    Live objects the specs do not declare (in the scopes they manage) are planned by :func:`orphans`.
    ``unfinished``: notes on procedures earlier applies left half done (see :func:`plan_one`). Changes that
    wait for each other in a cycle are errors (apply could never order them)."""
    notes = unfinished or {}
    changes: dict[Address, ResourceChange] = {}
    blocking: set[Address] = set()  # errors and blocked changes: what their dependents cannot get past
    creating: set[Address] = set()
    for r in resources:  # expand yields dependencies before dependents, so blocks propagate in one pass
        blocker = next((d for d in r.depends_on if d in blocking), None) if blocking else None
        if blocker is not None:
            changes[r.address] = ResourceChange(
                address=r.address,
                action=Action.NOOP,
                before=None,
                after=dict(r.desired),
                noop_reason=NoopReason.BLOCKED,
                reason=f"blocked: {blocker} cannot be planned",
                depends_on=r.depends_on,
                site=r.site,
                tenant=r.tenant,
                policy=r.policy,
            )
            blocking.add(r.address)
            continue
        early = planned.changes.get(r.address) if planned is not None else None
        change = (
            early if early is not None else plan_one(r, observed.get(r.address), unfinished=notes.get(r.address, ""))
        )
        change = _not_yet(r, change, creating)
        changes[r.address] = change
        if _blocks(change):
            blocking.add(r.address)
        if change.action is Action.CREATE:
            creating.add(r.address)
    _vacate_first(changes)
    _refuse_cycles(changes)
    found = orphans(
        declared if declared is not None else resources, observed, prune=prune, targets=targets, excludes=excludes
    )
    return Plan(
        changes=tuple(changes[r.address] for r in resources) + tuple(_after_users(found, changes)),
        created_at=created_at,
        spec_digest=digest if digest is not None else spec_digest(resources),
        diagnostics=tuple(diagnostics),
        targets=tuple(targets),
        excludes=tuple(excludes),
    )
