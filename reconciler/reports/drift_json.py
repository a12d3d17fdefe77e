"""The drift report as JSON: documented and versioned (docs/drift.md). ``formatVersion`` changes whenever a
field changes meaning; a reader should refuse a version it does not know."""

from __future__ import annotations

from typing import Any

from reconciler.engine.drift import DriftEntry, DriftReport


def entry_to_dict(e: DriftEntry) -> dict[str, Any]:
    return {
        "address": str(e.address),
        "kind": e.address.kind,
        "scope": e.address.scope,
        "name": e.address.name,
        "site": e.site,
        "tenant": e.tenant,
        "class": e.drift_class.value,
        "mode": e.mode.value if e.mode is not None else None,
        "reason": e.reason,
        "fields": [{"path": f.path, "expected": f.expected, "actual": f.actual} for f in e.fields],
        "lastApplied": (
            {"appliedAt": e.last_applied.applied_at, "runId": e.last_applied.run_id} if e.last_applied else None
        ),
        "observedVersion": e.observed_version or None,
        "error": e.error or None,
        "live": e.live,
    }


def to_dict(report: DriftReport, *, spec_paths: list[str] | None = None) -> dict[str, Any]:
    return {
        "formatVersion": report.format_version,
        "kind": "drift",
        "createdAt": report.created_at,
        "specDigest": report.spec_digest,
        "specPaths": spec_paths or [],
        "targets": list(report.targets),
        "excludes": list(report.excludes),
        "counts": {"total": len(report.entries), **report.counts()},
        "scopes": [{"site": s.site, "tenant": s.tenant, "counts": s.counts} for s in report.by_scope()],
        "resources": [entry_to_dict(e) for e in report.entries],
    }
