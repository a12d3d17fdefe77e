"""A DR drill's report, and how its verdicts are reached: pure. The runs layer (runs/drill.py) carries a drill out
and fills these values in; the reports (reports/drill_*.py) render them; docs/drills.md says what they mean.

A drill fails **targets** over for a test, one tenant at a time: each recovery plan of the tenant (its VMs group by
group), then each protected VM no plan holds. Per target it records the recovery point each VM failed over from
(RPO: that point's age when the test failover was requested), how long until every VM had failed over (RTO: from
the request to the VMs found succeeded), and the cleanup. A tenant:

- **passed**: every VM failed over, every test failover was cleaned up, and no VM's RPO is critical;
- **failed**: a VM did not fail over, a test failover or its cleanup failed, or an RPO is critical (the newest
  recovery point is older than the policy's retention: the failover worked, on data older than the policy allows);
- **error**: nothing was failed over (a lock another run holds, no drill network, nothing protected...);
- **interrupted**: the run was stopped (SIGTERM, Ctrl-C) before the tenant's drill was done; what it failed over
  was cleaned up.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from reconciler.engine.rpo import RpoPolicy, RpoStatus

DRILL_FORMAT_VERSION = 1
SUCCEEDED_STATE = "WaitingForCompletion"  # ASR's testFailoverState of a VM that failed over for a test


class Verdict(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    INTERRUPTED = "interrupted"


class Step(enum.StrEnum):
    """Where a drill failure happened."""

    LOCK = "lock"
    PRECHECK = "precheck"
    PROTECTION = "protection"  # a VM the specs protect is not protected: it cannot fail over
    RECOVERY_POINT = "recovery-point"
    LEFTOVER = "leftover-cleanup"  # a test failover an earlier, killed run left behind
    TEST_FAILOVER = "test-failover"
    VM_CHECK = "vm-check"
    CLEANUP = "cleanup"
    RPO = "rpo"
    INTERRUPT = "interrupt"


# Failures at these steps mean the DR did not work (or test VMs were left behind): the tenant failed. Failures at
# these others mean it could not be drilled at all: an error. A recovery point that cannot be read only leaves the
# RPO unknown.
FAILING_STEPS = frozenset({Step.PROTECTION, Step.LEFTOVER, Step.TEST_FAILOVER, Step.VM_CHECK, Step.CLEANUP, Step.RPO})
ERROR_STEPS = frozenset({Step.LOCK, Step.PRECHECK})


@dataclass(frozen=True, slots=True)
class Failure:
    step: Step
    address: str  # the object it concerns (a VM, a plan, the drill network, the tenant's scope)
    cause: str

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step.value, "address": self.address, "cause": self.cause}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Failure:
        return cls(Step(d["step"]), str(d["address"]), str(d.get("cause") or ""))


@dataclass(frozen=True, slots=True)
class PointSeen:
    """The recovery point a VM fails over from: its time, its kind, its age at the drill (seconds), and the
    backend's own RPO figure."""

    time: str | None
    kind: str | None
    age_s: float | None
    rpo_s: int | None = None


@dataclass(frozen=True, slots=True)
class VmDrill:
    name: str
    address: str
    state: str  # its testFailoverState after the test failover (WaitingForCompletion: failed over)
    succeeded: bool
    point: PointSeen | None = None
    rpo: RpoStatus = RpoStatus.UNKNOWN


@dataclass(frozen=True, slots=True)
class JobSeen:
    """A test failover or cleanup as the backend ran it, and how long the drill waited for it."""

    job: str
    state: str
    started: str | None
    ended: str | None
    seconds: float


@dataclass(frozen=True, slots=True)
class TargetDrill:
    address: str
    kind: str  # asr.recovery_plan or asr.protected_item
    name: str
    vms: tuple[VmDrill, ...]
    test_failover: JobSeen | None = None
    cleanup: JobSeen | None = None
    rto_s: float | None = None  # request to every VM failed over; None when not every VM did
    leftover_cleaned: bool = False  # an earlier run's test failover was cleaned up first
    failures: tuple[Failure, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures and self.rto_s is not None


@dataclass(frozen=True, slots=True)
class TenantDrill:
    tenant: str
    site: str
    verdict: Verdict
    network: str | None  # the drill's test network by name
    policy: RpoPolicy | None
    targets: tuple[TargetDrill, ...] = ()
    failures: tuple[Failure, ...] = ()  # the tenant's own (lock, precheck, interrupt), besides its targets'
    started_at: str = ""
    duration_s: float = 0.0

    @property
    def vms(self) -> tuple[VmDrill, ...]:
        return tuple(vm for t in self.targets for vm in t.vms)

    @property
    def all_failures(self) -> tuple[Failure, ...]:
        return (*self.failures, *(f for t in self.targets for f in t.failures))

    @property
    def rpo_s(self) -> float | None:
        """The worst (oldest) recovery point any VM failed over from."""
        ages = [vm.point.age_s for vm in self.vms if vm.point is not None and vm.point.age_s is not None]
        return max(ages) if ages else None

    @property
    def rpo(self) -> RpoStatus:
        return self.policy.status(self.rpo_s) if self.policy is not None else RpoStatus.UNKNOWN

    @property
    def rto_s(self) -> float | None:
        """The longest target's RTO (in a disaster the plans fail over side by side); None unless every target
        of the tenant failed over."""
        times = [t.rto_s for t in self.targets]
        if not times or any(t is None for t in times):
            return None
        return max(t for t in times if t is not None)


def verdict(failures: tuple[Failure, ...], *, interrupted: bool, drilled: bool) -> Verdict:
    """A tenant's verdict from all its failures (see the module docstring); ``drilled``: something was failed
    over (or was to be)."""
    if any(f.step in FAILING_STEPS for f in failures):
        return Verdict.FAILED
    if interrupted:
        return Verdict.INTERRUPTED
    if any(f.step in ERROR_STEPS for f in failures) or not drilled:
        return Verdict.ERROR
    return Verdict.PASSED


def rpo_failures(targets: tuple[TargetDrill, ...], policy: RpoPolicy | None) -> tuple[Failure, ...]:
    """A critical RPO per VM: the failover worked, on data older than the policy's retention."""
    if policy is None:
        return ()
    out = []
    for vm in (vm for t in targets for vm in t.vms):
        age = vm.point.age_s if vm.point is not None else None
        if policy.status(age) is RpoStatus.CRITICAL and age is not None:
            out.append(
                Failure(
                    Step.RPO,
                    vm.address,
                    f"the recovery point {vm.name} failed over from is {age / 3600:.1f} h old, beyond "
                    f"{policy.critical_s / 3600:g} h (policy {policy.name}): replication is behind or stopped",
                )
            )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class DrillReport:
    created_at: str
    spec_digest: str
    tenants: tuple[TenantDrill, ...]
    selectors: tuple[str, ...] = ()  # --target as given
    run_id: str = ""
    interrupted: bool = False
    format_version: int = DRILL_FORMAT_VERSION

    def counts(self) -> dict[str, int]:
        """Tenants per verdict (every verdict present), and VMs drilled and failed over."""
        out = {v.value: 0 for v in Verdict}
        for t in self.tenants:
            out[t.verdict.value] += 1
        vms = [vm for t in self.tenants for vm in t.vms]
        return {**out, "vms": len(vms), "vmsFailedOver": sum(1 for vm in vms if vm.succeeded)}

    @property
    def verdict(self) -> Verdict:
        """The run's: interrupted, else failed when any tenant failed, else error when any could not be drilled,
        else passed."""
        found = {t.verdict for t in self.tenants}
        if self.interrupted or Verdict.INTERRUPTED in found:
            return Verdict.INTERRUPTED
        for v in (Verdict.FAILED, Verdict.ERROR):
            if v in found:
                return v
        return Verdict.PASSED

    def headline(self) -> str:
        counts = self.counts()
        total = len(self.tenants)
        parts = ", ".join(f"{counts[v.value]} {v.value}" for v in Verdict if counts[v.value])
        vms = f"{counts['vmsFailedOver']} of {counts['vms']} VM{'s' * (counts['vms'] != 1)} failed over"
        word = {
            Verdict.PASSED: "DR drill passed",
            Verdict.FAILED: "DR drill FAILED",
            Verdict.ERROR: "DR drill incomplete",
            Verdict.INTERRUPTED: "DR drill interrupted",
        }[self.verdict]
        cleanup = "test failovers cleaned up" if self.cleaned_up else "a CLEANUP FAILED: test VMs may be left"
        return f"{word}: {total} tenant{'s' * (total != 1)} ({parts or 'none'}); {vms}; {cleanup}."

    @property
    def cleaned_up(self) -> bool:
        return not any(f.step is Step.CLEANUP for t in self.tenants for f in t.all_failures)


__all__ = [
    "DRILL_FORMAT_VERSION",
    "SUCCEEDED_STATE",
    "DrillReport",
    "Failure",
    "JobSeen",
    "PointSeen",
    "Step",
    "TargetDrill",
    "TenantDrill",
    "Verdict",
    "VmDrill",
    "rpo_failures",
    "verdict",
]
