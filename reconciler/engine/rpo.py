"""Recovery point objective (RPO) health: how old a protected VM's newest recovery point is, against its replication
policy. Pure: the live protected items and the time of the read in, findings out. Drift reports them as ``rpo``
health findings beside ``protection`` and ``cpu-ready`` (engine/health.py), and a drill judges the RPO it measured
with the same thresholds (engine/drill.py).

The thresholds, from the tenant's policy:

- **warning** beyond twice the replication interval (``replicationIntervalSeconds``): a replication cycle or more was
  missed, so a failover now would lose more than the policy promises;
- **critical** beyond the retention window (``recoveryPointHours``), or beyond one hour when the policy keeps only
  the latest point (0 hours): the newest point is older than anything the policy meant to keep, replication has in
  effect stopped.

Where the age comes from is the backend's: the embedded estate keeps it (status ``recoveryPointAgeSeconds``); ASR
reports the time of the last recovery point received or replicated (status ``lastRecoveryPoint``), whose age is
taken at the time of the read. ``rpoSeconds`` (ASR's own figure) is shown as evidence. See docs/drift.md."""

from __future__ import annotations

import datetime
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core import desired as typed
from reconciler.core.addresses import Address
from reconciler.core.resources import Observed, Resource
from reconciler.engine.health import HealthFinding

ITEM_KIND = "asr.protected_item"
POLICY_KIND = "asr.replication_policy"
NO_HISTORY_CRITICAL_S = 3600  # a policy that keeps only the latest point: critical past an hour
FIX_RPO = (
    "check the VM's replication in the Recovery Services vault (ASR jobs and events, the ASR Provider and the "
    "Recovery Services agent on its Hyper-V host, the host's outbound HTTPS to Azure); a VM that cannot catch up "
    "needs a resynchronization"
)


class RpoStatus(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"  # no recovery point, or the backend says nothing of its age


@dataclass(frozen=True, slots=True)
class RpoPolicy:
    """What a tenant's replication policy promises: the replication interval and the hours of points kept."""

    name: str
    interval_s: int
    retention_hours: int

    @property
    def warning_s(self) -> float:
        return 2.0 * self.interval_s

    @property
    def critical_s(self) -> float:
        return float(self.retention_hours * 3600 if self.retention_hours > 0 else NO_HISTORY_CRITICAL_S)

    def status(self, age_s: float | None) -> RpoStatus:
        if age_s is None:
            return RpoStatus.UNKNOWN
        if age_s > self.critical_s:
            return RpoStatus.CRITICAL
        return RpoStatus.WARNING if age_s > self.warning_s else RpoStatus.OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.name,
            "replicationIntervalSeconds": self.interval_s,
            "recoveryPointHours": self.retention_hours,
            "warningSeconds": self.warning_s,
            "criticalSeconds": self.critical_s,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RpoPolicy:
        return cls(str(d.get("policy") or ""), int(d["replicationIntervalSeconds"]), int(d["recoveryPointHours"]))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def parse_time(value: Any) -> datetime.datetime | None:
    """An ISO 8601 time (``Z`` or an offset; none: UTC), or None."""
    if not value:
        return None
    try:
        when = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=datetime.UTC)


def age_seconds(status: Mapping[str, Any], now: datetime.datetime) -> float | None:
    """The newest recovery point's age at ``now`` from a protected item's status (None: unknown). A point stamped
    after ``now`` (clocks apart) is 0 seconds old."""
    kept = _number(status.get("recoveryPointAgeSeconds"))
    if kept is not None:
        return max(kept, 0.0)
    when = parse_time(status.get("lastRecoveryPoint"))
    return max((now - when).total_seconds(), 0.0) if when is not None else None


def policies(resources: Iterable[Resource]) -> dict[tuple[str, str], RpoPolicy]:
    """The declared replication policies, by (tenant, name casefolded)."""
    out: dict[tuple[str, str], RpoPolicy] = {}
    for r in resources:
        if r.kind == POLICY_KIND:
            desired = typed.of(r, typed.ReplicationPolicy)
            interval = _number(desired.get("replicationIntervalSeconds"))
            hours = _number(desired.get("recoveryPointHours"))
            if interval is not None and hours is not None:
                out[(r.address.scope, r.address.name.casefold())] = RpoPolicy(r.address.name, int(interval), int(hours))
    return out


def policy_of(item: Resource, declared: Mapping[tuple[str, str], RpoPolicy]) -> RpoPolicy | None:
    """The policy a protected item replicates with, as the specs declare it."""
    return declared.get((item.address.scope, str(typed.of(item, typed.ProtectedItem).get("policy") or "").casefold()))


def duration(seconds: float | None) -> str:
    """``42s``, ``7m 30s``, ``3h 05m``, ``2d 4h``: an age or a timing as people read it."""
    if seconds is None:
        return "unknown"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def finding(item: Resource, seen: Observed | None, policy: RpoPolicy, now: datetime.datetime) -> HealthFinding | None:
    """The rpo finding of one protected item, or None (absent, no figure, or within the policy)."""
    if seen is None:
        return None
    age = age_seconds(seen.status, now)
    status = policy.status(age)
    if status in (RpoStatus.OK, RpoStatus.UNKNOWN):
        return None
    critical = status is RpoStatus.CRITICAL
    bound = (
        f"the {policy.retention_hours} h retention of policy {policy.name}"
        if critical and policy.retention_hours
        else f"an hour (policy {policy.name} keeps only the latest point)"
        if critical
        else f"twice the {policy.interval_s} s replication interval of policy {policy.name}"
    )
    return HealthFinding(
        address=item.address,
        site=item.site,
        tenant=item.tenant,
        check="rpo",
        severity=status.value,
        message=f"protected VM {item.address.name}: latest recovery point {duration(age)} old, beyond {bound}",
        cause="replication is behind or stopped: a failover now would lose the changes since that point",
        fix=FIX_RPO,
        value={
            "ageSeconds": round(age, 1) if age is not None else None,
            "lastRecoveryPoint": seen.status.get("lastRecoveryPoint"),
            "rpoSeconds": seen.status.get("rpoSeconds"),
        },
        threshold=policy.warning_s,
        evidence=policy.to_dict(),
    )


def findings(
    items: Sequence[Resource],
    observed: Mapping[Address, Observed | None],
    *,
    declared: Iterable[Resource],
    now: datetime.datetime,
) -> tuple[HealthFinding, ...]:
    """Every rpo finding among the protected items of ``items`` (read in ``observed``); ``declared``: every
    resource of the specs, where each item's policy is found."""
    known = policies(declared)
    out: list[HealthFinding] = []
    for r in items:
        if r.kind != ITEM_KIND:
            continue
        policy = policy_of(r, known)
        found = finding(r, observed.get(r.address), policy, now) if policy is not None else None
        if found is not None:
            out.append(found)
    return tuple(out)


__all__ = ["RpoPolicy", "RpoStatus", "age_seconds", "duration", "finding", "findings", "policies", "policy_of"]
