"""BIOS changes over the BMC seam, whatever the backend: which attributes a profile means for a vendor,
checking values against the BMC's own registry before sending them, staging only what differs, and waiting
(bounded, with progress) until a reset has applied them.

The vendor mapping is the spec layer's (``reconciler.spec.bios``): Dell ``SysProfile``, HPE
``PowerRegulator`` (and any explicit attributes, e.g. HPE ``WorkloadProfile``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler.core.errors import PermanentError, PreconditionError, TemporaryError
from reconciler.providers.bmc.model import AttributeValue, BmcBackend, JobState, Registry, Staged
from reconciler.spec.bios import attributes_for
from reconciler.spec.models.power import BiosProfile
from reconciler.spec.models.site import Vendor


def desired_attributes(
    vendor: Vendor, *, profile: BiosProfile | None = None, attributes: Mapping[str, AttributeValue] | None = None
) -> dict[str, AttributeValue]:
    """The vendor attributes a PowerProfile's ``bios`` block asks for: the profile's mapping, then the
    explicit attributes (which win)."""
    wanted: dict[str, AttributeValue] = {}
    if profile is not None:
        mapped = attributes_for(vendor, profile)
        if mapped is None:
            raise PermanentError(f"BIOS profile {profile.value} has no {vendor.value} mapping: give attributes instead")
        wanted.update(mapped)
    wanted.update(attributes or {})
    return wanted


def check_against_registry(name: str, registry: Registry, attributes: Mapping[str, AttributeValue]) -> None:
    """Refuse, before anything is sent, attributes the BMC does not know, cannot write, or values it would
    reject; the message lists the valid values."""
    problems: list[str] = []
    for attribute, value in attributes.items():
        spec = registry.attributes.get(attribute)
        if spec is None:
            problems.append(f"{attribute} is not a BIOS attribute of this server")
        elif spec.read_only:
            problems.append(f"{attribute} is read-only")
        elif spec.values and str(value) not in spec.values:
            problems.append(f"{attribute}={value!r} is not valid (valid: {', '.join(spec.values)})")
        elif isinstance(value, int) and not _within(value, spec.lower, spec.upper):
            problems.append(f"{attribute}={value} is outside {spec.lower}..{spec.upper}")
    if problems:
        raise PermanentError(f"BMC of {name} (registry {registry.id}): {'; '.join(problems)}", code="InvalidBiosValue")


def _within(value: int, lower: int | None, upper: int | None) -> bool:
    return (lower is None or value >= lower) and (upper is None or value <= upper)


def differences(
    current: Mapping[str, AttributeValue], wanted: Mapping[str, AttributeValue]
) -> dict[str, AttributeValue]:
    return {k: v for k, v in wanted.items() if str(current.get(k)) != str(v)}


def stage_changes(
    bmc: BmcBackend, wanted: Mapping[str, AttributeValue], *, registry: Registry | None = None
) -> Staged | None:
    """Stage the attributes that differ from what is in force (None: nothing to do). Values already
    pending are not sent again; other pending values are a precondition failure (they would apply too)."""
    state = bmc.read_bios()
    change = differences(state.attributes, wanted)
    if not change:
        return None
    if state.pending:
        if all(str(state.pending.get(k)) == str(v) for k, v in change.items()):
            job_id = getattr(bmc, "pending_job", lambda: None)()
            return Staged(job_id=job_id, attributes=change)
        raise PreconditionError(
            f"BMC of {bmc.name}: other BIOS settings are already pending ({_show(state.pending)}); they would "
            "apply with these at the next reset: discard them first (or let them apply)",
            code="OtherSettingsPending",
        )
    check_against_registry(bmc.name, registry or bmc.registry(), change)
    return bmc.stage(change)


@dataclass(frozen=True)
class ApplyProgress:
    host: str
    phase: str  # job, boot
    job_state: JobState | None
    percent: int | None
    message: str


@dataclass(frozen=True)
class Waiting:
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    poll_s: float = 10.0


def wait_applied(
    bmc: BmcBackend,
    staged: Staged,
    *,
    timeout_s: float,
    on_progress: Callable[[ApplyProgress], None] | None = None,
    waiting: Waiting | None = None,
) -> None:
    """After the reset: follow the job (if any) to its end, then until the values are in force and nothing
    is pending. A failed job is a PermanentError with the BMC's message; still waiting at ``timeout_s`` is a
    TemporaryError (the server may still be in POST)."""
    w = waiting or Waiting()
    deadline = w.clock() + timeout_s
    last: ApplyProgress | None = None

    def report(progress: ApplyProgress) -> None:
        nonlocal last
        if on_progress is not None and progress != last:
            on_progress(progress)
        last = progress

    while True:
        if staged.job_id is not None:
            job = bmc.job(staged.job_id)
            report(ApplyProgress(bmc.name, "job", job.state, job.percent, job.message))
            if job.state is JobState.FAILED:
                raise PermanentError(
                    f"BMC of {bmc.name}: BIOS job {job.id} failed: {job.message or 'no message'}", code="JobFailed"
                )
            done = job.state is JobState.COMPLETED
        else:
            done = True
        if done:
            state = bmc.read_bios()
            missing = differences(state.attributes, staged.attributes)
            report(
                ApplyProgress(bmc.name, "boot", None, None, f"waiting for {_show(missing)}" if missing else "applied")
            )
            if not missing and not state.pending:
                return
        if w.clock() >= deadline:
            raise TemporaryError(
                f"BMC of {bmc.name}: BIOS settings {_show(staged.attributes)} not applied after {timeout_s:.0f} s "
                "(raise RECONCILER_BMC_APPLY_TIMEOUT_S for servers that take longer to boot)"
            )
        w.sleep(min(w.poll_s, max(0.0, deadline - w.clock())))


def _show(attributes: Mapping[str, AttributeValue]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(attributes.items()))
