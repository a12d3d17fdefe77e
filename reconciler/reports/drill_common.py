"""What the text, Markdown and HTML drill reports share: how a verdict, an RPO, an RTO, a recovery point and a job are
shown, and the order failures are listed in. Pure."""

from __future__ import annotations

from reconciler.engine.drill import DrillReport, Failure, JobSeen, PointSeen, Step, TargetDrill, TenantDrill, Verdict
from reconciler.engine.rpo import duration

VERDICT_WORDS = {
    Verdict.PASSED: "passed",
    Verdict.FAILED: "FAILED",
    Verdict.ERROR: "not drilled",
    Verdict.INTERRUPTED: "interrupted",
}
# Failed tenants first: what a reader must act on.
VERDICT_ORDER = (Verdict.FAILED, Verdict.ERROR, Verdict.INTERRUPTED, Verdict.PASSED)
TARGET_TITLES = {"asr.recovery_plan": "recovery plan", "asr.protected_item": "VM"}


def tenants(report: DrillReport) -> list[TenantDrill]:
    """The tenants, failed first, then by name."""
    rank = {v: i for i, v in enumerate(VERDICT_ORDER)}
    return sorted(report.tenants, key=lambda t: (rank[t.verdict], t.tenant))


def failures(report: DrillReport) -> list[tuple[TenantDrill, Failure]]:
    """Every failure with its tenant, failed tenants first."""
    return [(t, f) for t in tenants(report) for f in t.all_failures]


def rpo(t: TenantDrill) -> str:
    """``5m 00s (ok)``: the oldest recovery point any VM failed over from, and how it stands against the policy."""
    if t.rpo_s is None:
        return "unknown"
    return f"{duration(t.rpo_s)} ({t.rpo.value})"


def thresholds(t: TenantDrill) -> str:
    """``warning past 10m 00s, critical past 24h 00m (policy Fabrikam-Policy)``."""
    if t.policy is None:
        return "no policy declared"
    p = t.policy
    return f"warning past {duration(p.warning_s)}, critical past {duration(p.critical_s)} (policy {p.name})"


def rto(seconds: float | None) -> str:
    return "not reached" if seconds is None else duration(seconds) if seconds >= 60 else f"{seconds:.1f}s"


def point(p: PointSeen | None) -> str:
    """``2026-12-06T05:00:00Z (ApplicationConsistent, 7h 00m old)``."""
    if p is None:
        return "not read"
    if p.time is None and p.age_s is None:
        return "none yet"
    kind = f"{p.kind}, " if p.kind else ""
    return f"{p.time or 'time unknown'} ({kind}{duration(p.age_s)} old)"


def job(j: JobSeen | None) -> str:
    if j is None:
        return "–"
    return f"{j.state} in {rto(j.seconds)}" + (f" (job {j.job})" if j.job else "")


def test_failover(x: TargetDrill) -> str:
    """How the target's test failover went: its job, or that it failed (the failures say why) or never ran."""
    if x.test_failover is not None:
        return job(x.test_failover)
    return "failed (see the failures)" if any(f.step is Step.TEST_FAILOVER for f in x.failures) else "not run"


__all__ = ["failures", "job", "point", "rpo", "rto", "tenants", "test_failover", "thresholds"]
