"""Drift: pure. Desired resources, the live objects a refresh read and what apply last applied per
address in, a ``DriftReport`` out: one entry per resource or live object, each with a class.

- ``in-sync``: the live object matches the spec (the planner plans a no-op; ignored fields may differ);
- ``drifted``: the spec did not change since the last apply, yet the live object differs: it was
  changed outside the tool. For observe-only resources (``lifecycle.mode: observe``) any difference
  is drift, whatever was applied: watching for it is their point;
- ``missing``: it was applied before (or it is observe-only, or a VM/host the tool only configures),
  and the live object is gone;
- ``pending``: the spec changed since the last apply, or was never applied, and the live object does
  not match it yet: a change waiting for apply, not drift;
- ``unmanaged``: a live object in a managed scope that no spec declares (the planner's orphans).

No I/O, no clock (the caller passes ``created_at``): the same input always gives the same report.
See docs/drift.md."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from reconciler.core.addresses import Address
from reconciler.core.changes import Action, ActionReason, NoopReason, ResourceChange
from reconciler.core.resources import Mode, Observed, Resource
from reconciler.engine import planner
from reconciler.engine.health import HealthFinding, Reading

if TYPE_CHECKING:
    from reconciler.store.history import Applied

DRIFT_FORMAT_VERSION = 2  # 2: adds ``health`` (docs/drift.md)


class DriftClass(enum.StrEnum):
    IN_SYNC = "in-sync"
    DRIFTED = "drifted"
    MISSING = "missing"
    PENDING = "pending"
    UNMANAGED = "unmanaged"


@dataclass(frozen=True, slots=True)
class FieldDrift:
    """One field where the live object differs: what the spec wants, and what is there."""

    path: str
    expected: Any
    actual: Any


@dataclass(frozen=True, slots=True)
class LastApplied:
    """When, and in which run, apply last applied this address."""

    applied_at: str
    run_id: str


@dataclass(frozen=True, slots=True)
class DriftEntry:
    address: Address
    drift_class: DriftClass
    site: str
    tenant: str | None
    reason: str = ""  # for people only
    fields: tuple[FieldDrift, ...] = ()
    mode: Mode | None = None  # None for an unmanaged object: no spec, no mode
    last_applied: LastApplied | None = None
    observed_version: str = ""
    error: str = ""  # e.g. the spec names a VM that does not exist
    live: dict[str, Any] | None = None  # the live object, for unmanaged objects only


@dataclass(frozen=True, slots=True)
class ScopeCounts:
    """The classes counted in one site (``tenant`` None) or one tenant of a site."""

    site: str
    tenant: str | None
    counts: dict[str, int]


def _zero() -> dict[str, int]:
    return {c.value: 0 for c in DriftClass}


@dataclass(frozen=True, slots=True)
class DriftReport:
    entries: tuple[DriftEntry, ...]
    created_at: str
    spec_digest: str
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    format_version: int = DRIFT_FORMAT_VERSION
    health: tuple[HealthFinding, ...] = ()  # engine/health.py: protection and CPU ready problems
    readings: tuple[Reading, ...] = ()  # every watched host's CPU ready, finding or not: the trend history keeps

    def counts(self) -> dict[str, int]:
        """Entries per class (every class present, zero when none)."""
        out = _zero()
        for e in self.entries:
            out[e.drift_class.value] += 1
        return out

    def by_scope(self) -> tuple[ScopeCounts, ...]:
        """Counts per site (its own objects) and per tenant, sites first, then tenants, by name."""
        found: dict[tuple[int, str, str], dict[str, int]] = {}
        for e in self.entries:
            key = (1, e.site, e.tenant) if e.tenant else (0, e.site, "")
            counts = found.get(key)
            if counts is None:
                counts = found[key] = _zero()
            counts[e.drift_class.value] += 1
        return tuple(
            ScopeCounts(site=site, tenant=tenant or None, counts=counts)
            for (_, site, tenant), counts in sorted(found.items())
        )

    @property
    def findings(self) -> tuple[DriftEntry, ...]:
        """Every entry that is not in sync."""
        return tuple(e for e in self.entries if e.drift_class is not DriftClass.IN_SYNC)

    @property
    def has_findings(self) -> bool:
        """Anything not in sync, or any health finding: the exit code 2."""
        return bool(self.findings or self.health)


def _canonical(value: Any) -> str:
    # What the store holds went through JSON (sort_keys, default=str): compare in that form.
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def _fields(change: ResourceChange) -> tuple[FieldDrift, ...]:
    return tuple(FieldDrift(path=f.path, expected=f.new, actual=f.old) for f in change.fields)


def classify_one(
    resource: Resource,
    observed: Observed | None,
    applied: Applied | None,
    *,
    redact: Callable[[Any], Any] | None = None,
    change: ResourceChange | None = None,
) -> DriftEntry:
    """The class of one declared resource. ``applied`` is what apply last applied to it (None: never);
    ``redact`` is what apply did to ``desired`` before storing it, so both compare alike. ``change`` is
    ``planner.plan_one(resource, observed)`` when the caller planned it already (as each read returned)."""
    if change is None:
        change = planner.plan_one(resource, observed)
    last = LastApplied(applied.applied_at, applied.run_id) if applied is not None else None
    base: dict[str, Any] = {
        "address": resource.address,
        "site": resource.site,
        "tenant": resource.tenant,
        "mode": resource.policy.mode,
        "last_applied": last,
        "observed_version": observed.version if observed is not None else "",
        "error": change.error,
    }
    observe = resource.policy.mode is Mode.OBSERVE

    def entry(drift_class: DriftClass, reason: str, *, fields: tuple[FieldDrift, ...] = ()) -> DriftEntry:
        return DriftEntry(drift_class=drift_class, reason=reason, fields=fields, **base)

    if observed is None:
        if applied is not None:
            return entry(DriftClass.MISSING, "applied before, now gone: deleted outside reconciler")
        if change.noop_reason is NoopReason.MISSING_UNMANAGED:
            return entry(DriftClass.MISSING, change.reason or "does not exist")
        if observe:
            return entry(DriftClass.MISSING, "does not exist (observe-only: never created)")
        return entry(DriftClass.PENDING, "not created yet: apply will create it")
    if change.action is Action.NOOP and not change.fields:
        why = "in sync"
        if change.noop_reason is NoopReason.IGNORED_FIELDS:
            why = "in sync (differs only in lifecycle.ignoreFields)"
        return entry(DriftClass.IN_SYNC, why)
    fields = _fields(change)
    if observe:  # plan_one lists the differences of an observe-only resource and plans nothing
        return entry(DriftClass.DRIFTED, "differs from the spec (observe-only: reported, never changed)", fields=fields)
    if change.noop_reason is NoopReason.UNOWNED:
        return entry(DriftClass.DRIFTED, change.reason, fields=fields)
    if change.action is Action.ADOPT:  # the spec adopts an object made outside reconciler: apply marks it
        return entry(DriftClass.PENDING, "not adopted yet: apply marks it as reconciler's, changing nothing else")
    if change.action_reason is ActionReason.RESUME:  # a procedure an interrupted apply left half done
        return entry(DriftClass.PENDING, change.reason)
    if change.unfinished:  # the same, with the change itself still to make (a BIOS change, its host out)
        return entry(
            DriftClass.PENDING, f"an interrupted apply left this unfinished: {change.unfinished}", fields=fields
        )
    if any(f.path == planner.MARKER_FIELD for f in change.fields):
        return entry(
            DriftClass.DRIFTED,
            "created by reconciler, its ownership marker removed outside reconciler: apply puts it back",
            fields=fields,
        )
    if change.action_reason is ActionReason.LIFECYCLE:
        # The ownership marker records the lifecycle the object was applied with; last_applied does not,
        # so a spec that changed prune/protect cannot be told from a marker edited by hand.
        return entry(
            DriftClass.PENDING,
            "lifecycle (prune/protect) differs from the ownership marker: apply rewrites it",
            fields=fields,
        )
    if applied is None:
        return entry(DriftClass.PENDING, "never applied by reconciler: apply will change it", fields=fields)
    desired = redact(dict(resource.desired)) if redact is not None else resource.desired
    if _canonical(desired) != _canonical(applied.desired):
        return entry(DriftClass.PENDING, "the spec changed since the last apply: apply will change it", fields=fields)
    return entry(DriftClass.DRIFTED, "changed outside reconciler since the last apply", fields=fields)


def make_report(
    resources: Sequence[Resource],
    observed: Mapping[Address, Observed | None],
    applied: Mapping[str, Applied],
    *,
    created_at: str,
    declared: Sequence[Resource] | None = None,
    targets: Sequence[str] = (),
    excludes: Sequence[str] = (),
    redact: Callable[[Any], Any] | None = None,
    digest: str | None = None,
    health: Sequence[HealthFinding] = (),
    planned: Mapping[Address, ResourceChange] | None = None,
    readings: Sequence[Reading] = (),
) -> DriftReport:
    """Classify every resource (``resources``: the selected ones) and every live object of their scopes
    that no spec declares. ``declared`` is every resource of the specs (default ``resources``): what a
    ``--target`` leaves out is still declared, never unmanaged. ``applied`` is keyed by address text,
    as the store returns it. ``planned`` holds each resource's ``planner.plan_one`` change where the caller
    made it already (``planner.Pending``, fed by the reads)."""
    changes = planned or {}
    entries = [
        classify_one(
            r, observed.get(r.address), applied.get(str(r.address)), redact=redact, change=changes.get(r.address)
        )
        for r in resources
    ]
    for orphan in planner.orphans(
        declared if declared is not None else resources, observed, prune=False, targets=targets, excludes=excludes
    ):
        before = applied.get(str(orphan.address))
        entries.append(
            DriftEntry(
                address=orphan.address,
                drift_class=DriftClass.UNMANAGED,
                site=orphan.site,
                tenant=orphan.tenant,
                reason=orphan.reason,
                last_applied=LastApplied(before.applied_at, before.run_id) if before is not None else None,
                observed_version=orphan.observed_version,
                live=orphan.before,
            )
        )
    return DriftReport(
        entries=tuple(entries),
        created_at=created_at,
        spec_digest=digest if digest is not None else planner.spec_digest(resources),
        targets=tuple(targets),
        excludes=tuple(excludes),
        health=tuple(health),
        readings=tuple(readings),
    )


def redacted(report: DriftReport, redact: Callable[[Any], Any]) -> DriftReport:
    """The report with ``redact`` applied to every value it shows (expected, actual, live objects)."""

    def one(e: DriftEntry) -> DriftEntry:
        if not e.fields and e.live is None and redact(e.reason) is e.reason and redact(e.error) is e.error:
            return e  # nothing shown that could hold a secret (most entries of a large estate)
        # As field changes ({"path", "old", "new"}): the redactor masks both values when the path names a secret.
        masked = redact([{"path": f.path, "old": f.actual, "new": f.expected} for f in e.fields])
        fields = tuple(
            FieldDrift(path=f.path, expected=m["new"], actual=m["old"]) for f, m in zip(e.fields, masked, strict=True)
        )
        return replace(e, fields=fields, live=redact(e.live), reason=redact(e.reason), error=redact(e.error))

    def finding(h: HealthFinding) -> HealthFinding:
        return replace(h, message=redact(h.message), cause=redact(h.cause), fix=redact(h.fix))

    return replace(
        report, entries=tuple(one(e) for e in report.entries), health=tuple(finding(h) for h in report.health)
    )


__all__ = [
    "DRIFT_FORMAT_VERSION",
    "DriftClass",
    "DriftEntry",
    "DriftReport",
    "FieldDrift",
    "HealthFinding",
    "LastApplied",
    "Reading",
    "ScopeCounts",
    "classify_one",
    "make_report",
    "redacted",
]
