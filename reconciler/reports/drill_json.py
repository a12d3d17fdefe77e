"""The drill report as JSON: documented and versioned (docs/drills.md). ``formatVersion`` changes whenever a field
changes meaning; :func:`from_dict` refuses a version it does not know. The history store keeps this document, and
``reconciler show RUN_ID`` renders it again through :func:`from_dict`."""

from __future__ import annotations

from typing import Any

from reconciler.engine.drill import (
    DRILL_FORMAT_VERSION,
    DrillReport,
    Failure,
    JobSeen,
    PointSeen,
    TargetDrill,
    TenantDrill,
    Verdict,
    VmDrill,
)
from reconciler.engine.rpo import RpoPolicy, RpoStatus


class DrillFormatError(ValueError):
    """Not a drill report of this format version."""


def _job(j: JobSeen | None) -> dict[str, Any] | None:
    if j is None:
        return None
    return {"job": j.job, "state": j.state, "started": j.started, "ended": j.ended, "seconds": j.seconds}


def _point(p: PointSeen | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"time": p.time, "kind": p.kind, "ageSeconds": p.age_s, "rpoSeconds": p.rpo_s}


def _vm(v: VmDrill) -> dict[str, Any]:
    return {
        "name": v.name,
        "address": v.address,
        "testFailoverState": v.state,
        "failedOver": v.succeeded,
        "recoveryPoint": _point(v.point),
        "rpo": v.rpo.value,
    }


def _target(t: TargetDrill) -> dict[str, Any]:
    return {
        "address": t.address,
        "kind": t.kind,
        "name": t.name,
        "passed": t.passed,
        "rtoSeconds": t.rto_s,
        "leftoverCleaned": t.leftover_cleaned,
        "testFailover": _job(t.test_failover),
        "cleanup": _job(t.cleanup),
        "vms": [_vm(v) for v in t.vms],
        "failures": [f.to_dict() for f in t.failures],
    }


def tenant_to_dict(t: TenantDrill) -> dict[str, Any]:
    return {
        "tenant": t.tenant,
        "site": t.site,
        "result": t.verdict.value,
        "network": t.network,
        "rpo": {"seconds": t.rpo_s, "status": t.rpo.value, **(t.policy.to_dict() if t.policy else {})},
        "rto": {"seconds": t.rto_s},
        "startedAt": t.started_at,
        "durationSeconds": t.duration_s,
        "failures": [f.to_dict() for f in t.all_failures],
        "ownFailures": [f.to_dict() for f in t.failures],
        "targets": [_target(x) for x in t.targets],
    }


def to_dict(report: DrillReport, *, spec_paths: list[str] | None = None) -> dict[str, Any]:
    return {
        "formatVersion": report.format_version,
        "kind": "drill",
        "runId": report.run_id,
        "createdAt": report.created_at,
        "specDigest": report.spec_digest,
        "specPaths": spec_paths or [],
        "targets": list(report.selectors),
        "result": report.verdict.value,
        "interrupted": report.interrupted,
        "counts": {"tenants": len(report.tenants), **report.counts()},
        "tenants": [tenant_to_dict(t) for t in report.tenants],
    }


# --- reading it back --------------------------------------------------------------------------------------


def _job_back(d: dict[str, Any] | None) -> JobSeen | None:
    if d is None:
        return None
    return JobSeen(str(d.get("job") or ""), str(d.get("state") or ""), d.get("started"), d.get("ended"), d["seconds"])


def _point_back(d: dict[str, Any] | None) -> PointSeen | None:
    if d is None:
        return None
    return PointSeen(d.get("time"), d.get("kind"), d.get("ageSeconds"), d.get("rpoSeconds"))


def _target_back(d: dict[str, Any]) -> TargetDrill:
    return TargetDrill(
        address=str(d["address"]),
        kind=str(d["kind"]),
        name=str(d["name"]),
        vms=tuple(
            VmDrill(
                name=str(v["name"]),
                address=str(v["address"]),
                state=str(v.get("testFailoverState") or ""),
                succeeded=bool(v.get("failedOver")),
                point=_point_back(v.get("recoveryPoint")),
                rpo=RpoStatus(v.get("rpo") or "unknown"),
            )
            for v in d.get("vms", [])
        ),
        test_failover=_job_back(d.get("testFailover")),
        cleanup=_job_back(d.get("cleanup")),
        rto_s=d.get("rtoSeconds"),
        leftover_cleaned=bool(d.get("leftoverCleaned")),
        failures=tuple(Failure.from_dict(f) for f in d.get("failures", [])),
    )


def _tenant_back(d: dict[str, Any]) -> TenantDrill:
    rpo = d.get("rpo") or {}
    return TenantDrill(
        tenant=str(d["tenant"]),
        site=str(d.get("site") or ""),
        verdict=Verdict(d["result"]),
        network=d.get("network"),
        policy=RpoPolicy.from_dict(rpo) if "replicationIntervalSeconds" in rpo else None,
        targets=tuple(_target_back(t) for t in d.get("targets", [])),
        failures=tuple(Failure.from_dict(f) for f in d.get("ownFailures", [])),
        started_at=str(d.get("startedAt") or ""),
        duration_s=float(d.get("durationSeconds") or 0.0),
    )


def from_dict(data: Any) -> tuple[DrillReport, list[str]]:
    """The drill report a :func:`to_dict` document holds, and the spec paths it was made from."""
    if not isinstance(data, dict) or data.get("kind") != "drill" or "tenants" not in data:
        raise DrillFormatError("not a reconciler drill report (no kind: drill, or no tenants)")
    if data.get("formatVersion") != DRILL_FORMAT_VERSION:
        raise DrillFormatError(f"drill format version {data.get('formatVersion')} is not {DRILL_FORMAT_VERSION}")
    try:
        report = DrillReport(
            created_at=str(data["createdAt"]),
            spec_digest=str(data.get("specDigest") or ""),
            tenants=tuple(_tenant_back(t) for t in data["tenants"]),
            selectors=tuple(str(s) for s in data.get("targets", [])),
            run_id=str(data.get("runId") or ""),
            interrupted=bool(data.get("interrupted")),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise DrillFormatError(f"damaged drill report ({exc})") from exc
    return report, [str(p) for p in data.get("specPaths", [])]


__all__ = ["DrillFormatError", "from_dict", "tenant_to_dict", "to_dict"]
