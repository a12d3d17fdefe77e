"""The drift report as JSON: documented and versioned (docs/drift.md). ``formatVersion`` changes whenever a
field changes meaning; a reader should refuse a version it does not know (:func:`from_dict` does)."""

from __future__ import annotations

from typing import Any

from reconciler.core.addresses import Address
from reconciler.core.resources import Mode
from reconciler.engine.drift import (
    DRIFT_FORMAT_VERSION,
    DriftClass,
    DriftEntry,
    DriftReport,
    FieldDrift,
    LastApplied,
)
from reconciler.engine.health import HealthFinding, Reading


class DriftFormatError(ValueError):
    """Not a drift report of this format version."""


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
        "health": [h.to_dict() for h in report.health],
        "cpuReady": [r.to_dict() for r in report.readings],
    }


def _entry(d: dict[str, Any]) -> DriftEntry:
    last = d.get("lastApplied")
    return DriftEntry(
        address=Address.parse(d["address"]),
        drift_class=DriftClass(d["class"]),
        site=d.get("site") or "",
        tenant=d.get("tenant"),
        reason=d.get("reason") or "",
        fields=tuple(
            FieldDrift(path=f["path"], expected=f.get("expected"), actual=f.get("actual")) for f in d.get("fields", [])
        ),
        mode=Mode(d["mode"]) if d.get("mode") else None,
        last_applied=LastApplied(applied_at=last["appliedAt"], run_id=last["runId"]) if last else None,
        observed_version=d.get("observedVersion") or "",
        error=d.get("error") or "",
        live=d.get("live"),
    )


def from_dict(data: Any) -> tuple[DriftReport, list[str]]:
    """The drift report a :func:`to_dict` document holds, and the spec paths it was made from."""
    if not isinstance(data, dict) or data.get("kind") != "drift" or "resources" not in data:
        raise DriftFormatError("not a reconciler drift report (no kind: drift, or no resources)")
    if data.get("formatVersion") != DRIFT_FORMAT_VERSION:
        raise DriftFormatError(f"drift format version {data.get('formatVersion')} is not {DRIFT_FORMAT_VERSION}")
    try:
        report = DriftReport(
            entries=tuple(_entry(e) for e in data["resources"]),
            created_at=str(data["createdAt"]),
            spec_digest=str(data["specDigest"]),
            targets=tuple(data.get("targets", [])),
            excludes=tuple(data.get("excludes", [])),
            health=tuple(HealthFinding.from_dict(h) for h in data.get("health", [])),
            readings=tuple(Reading.from_dict(r) for r in data.get("cpuReady", [])),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise DriftFormatError(f"damaged drift report ({exc})") from exc
    return report, [str(p) for p in data.get("specPaths", [])]
