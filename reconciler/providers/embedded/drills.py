"""The drill primitives on the embedded estate (``providers.drills.Drills``), with ASR's rules: a test failover of a
recovery plan (its VMs group by group) or of one protected VM into a network the estate holds, its cleanup, and a
VM's latest recovery point. Every call is a round trip with the estate's latency and faults, and a job waits
``job_polls`` polls like enabling protection does (docs/estate.md).

What the estate keeps, in a protected item's status: ``testFailoverState`` (``None``; ``WaitingForCompletion``
once the VM failed over for a test, until the cleanup; ``Failed``), the test VM (``testVm``: ``<name>-test``) and
the network it runs in, and ``recoveryPointAgeSeconds``, the age of its newest recovery point: one replication
interval of its policy unless the estate keeps another (an estate file sets it to show replication behind). A VM
whose status carries ``testFailoverError`` fails its test failover with that cause; ASR's refusals hold too (a VM
not protected, a test failover already waiting for its cleanup, a network that does not exist)."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from reconciler.core.addresses import Address
from reconciler.core.errors import PermanentError
from reconciler.core.resources import Resource
from reconciler.providers.base import Progress
from reconciler.providers.drills import DrillJob, RecoveryPoint
from reconciler.providers.embedded.faults import Faults
from reconciler.providers.embedded.store import EstateStore, Row

ITEM_KIND = "asr.protected_item"
WAITING = "WaitingForCompletion"  # failed over for a test, waiting for its cleanup
DEFAULT_AGE_S = 300.0  # a recovery point's age when neither the item nor its policy says (ASR's default interval)


def _interval(policy: Row | None) -> float:
    value = policy.data.get("replicationIntervalSeconds") if policy is not None else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else DEFAULT_AGE_S


def with_recovery_points(store: EstateStore, items: list[Row], scopes: Sequence[str]) -> list[Row]:
    """Protected items with the age of their newest recovery point: the age the estate keeps for the item
    (``recoveryPointAgeSeconds``, set to show replication behind), else one replication interval of its policy as
    the policy is now (replication keeps the newest point there). The policies come with the same answer: still
    one round trip."""
    policies = {
        (r.address.scope, r.address.name.casefold()): r for r in store.list_many("asr.replication_policy", scopes)
    }
    for row in items:
        if "recoveryPointAgeSeconds" not in row.status:
            policy = policies.get((row.address.scope, str(row.data.get("policy") or "").casefold()))
            row.status = {**row.status, "recoveryPointAgeSeconds": _interval(policy)}
    return items


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


class EmbeddedDrills:
    def __init__(self, store: EstateStore, faults: Faults) -> None:
        self.store = store
        self.faults = faults

    def network_id(self, network: Resource) -> str:
        """The estate names a network by its address."""
        return str(network.address)

    # --- helpers ---------------------------------------------------------------------------------------

    def _row(self, address: Address, what: str) -> Row:
        row = self.store.get(address)
        if row is None:
            raise PermanentError(f"{what}: {address} does not exist", code="NotFound")
        return row

    def _groups(self, target: Resource) -> list[list[Address]]:
        """The protected items a target fails over, group by group (a VM alone: one group of one)."""
        if target.kind == ITEM_KIND:
            return [[target.address]]
        plan = self._row(target.address, "test failover")
        return [[Address(ITEM_KIND, target.address.scope, str(vm)) for vm in group] for group in plan.data["groups"]]

    def _set(self, address: Address, **status: Any) -> None:
        """Merge ``status`` into the object's status; a None value removes the key."""
        with self.store.transaction():
            row = self._row(address, "update")
            merged = {**row.status, **status}
            row.status = {k: v for k, v in merged.items() if v is not None}
            self.store.put(row)

    def _wait(self, name: str, address: Address, progress: Progress, each: Callable[[int], None]) -> None:
        """The job's polls, ``each(poll)`` run at every one (a plan fails over a group per poll)."""
        polls = max(self.faults.job_polls, 1)
        for poll in range(1, polls + 1):
            self.faults.round_trip(f"poll {name}", address)
            each(poll)
            progress(f"{name}: InProgress ({poll}/{polls})")

    def _check(self, groups: list[list[Address]], network_id: str | None) -> None:
        """ASR's refusals before a test failover starts: every VM protected and not already failed over for a
        test, and the network there."""
        if network_id is not None:
            try:
                network = Address.parse(network_id)
            except ValueError as exc:
                raise PermanentError(f"test failover: {network_id!r} is not a network", code="InvalidNetwork") from exc
            self._row(network, "test failover network")
        for address in (a for group in groups for a in group):
            row = self._row(address, "test failover")
            if str(row.status.get("protectionState")) != "Protected":
                raise PermanentError(
                    f"test failover: {address.name} is not protected ({row.status.get('protectionState')})",
                    code="ProtectedItemNotProtected",
                )
            if row.status.get("testFailoverState") == WAITING:
                raise PermanentError(
                    f"test failover: {address.name} has a test failover waiting for its cleanup: clean it up first",
                    code="TestFailoverInProgress",
                )

    # --- the primitives --------------------------------------------------------------------------------

    def test_failover(self, target: Resource, *, network_id: str | None, progress: Progress) -> DrillJob:
        self.faults.round_trip("Test failover", target.address)
        groups = self._groups(target)
        self._check(groups, network_id)
        started, job = _now(), f"embedded-{uuid.uuid4().hex[:12]}"
        failed: list[str] = []

        def fail_over(poll: int) -> None:
            # Group i fails over at poll i (the last poll takes whatever groups remain); a group after a failed one
            # never starts, as in a recovery plan.
            polls = max(self.faults.job_polls, 1)
            todo = groups[poll - 1 :] if poll == polls else groups[poll - 1 : poll]
            for group in todo:
                if failed:
                    return
                for address in group:
                    self._fail_over(address, network_id, progress, failed)

        self._wait("Test failover", target.address, progress, fail_over)
        if target.kind != ITEM_KIND:
            self._set(
                target.address, currentScenarioStatus="Failed" if failed else "Suspended", lastTestFailover=_now()
            )
        if failed:
            raise PermanentError(f"test failover of {target.address.name} failed: {'; '.join(failed)}", code="Failed")
        return DrillJob(job=job, state="Succeeded", started=started, ended=_now())

    def _fail_over(self, address: Address, network_id: str | None, progress: Progress, failed: list[str]) -> None:
        """One VM's test failover: its test VM started in the network, or its failure recorded."""
        try:
            self.faults.round_trip("Test failover VM", address)
            error = self._row(address, "test failover").status.get("testFailoverError")
            if error:
                raise PermanentError(str(error), code="TestFailoverFailed")
        except PermanentError as exc:
            self._set(address, testFailoverState="Failed")
            failed.append(f"{address.name}: {exc}")
            progress(f"Test failover: {address.name} failed")
            return
        self._set(address, testFailoverState=WAITING, testVm=f"{address.name}-test", testNetwork=network_id)
        progress(f"Test failover: {address.name} started in the test network")

    def cleanup(self, target: Resource, *, comments: str, progress: Progress) -> DrillJob:
        """Delete the test VMs of the target's test failover (whatever it left: failed over or failed), recording
        ``comments``; idempotent."""
        self.faults.round_trip("Test failover cleanup", target.address)
        groups = self._groups(target)
        started, job = _now(), f"embedded-{uuid.uuid4().hex[:12]}"
        self._wait("Test failover cleanup", target.address, progress, lambda _poll: None)
        for address in (a for group in groups for a in group):
            if self.store.get(address) is not None:
                self._set(
                    address, testFailoverState="None", testVm=None, testNetwork=None, testFailoverComments=comments
                )
        if target.kind != ITEM_KIND:
            self._set(target.address, currentScenarioStatus="Succeeded", testFailoverComments=comments)
        progress("Test failover cleanup: Succeeded")
        return DrillJob(job=job, state="Succeeded", started=started, ended=_now())

    def latest_recovery_point(self, item: Resource) -> RecoveryPoint | None:
        """The newest point's age as the estate keeps it (no time: the drill dates it by its own clock)."""
        self.faults.round_trip("list recovery points", item.address)
        row = self._row(item.address, "list recovery points")
        if str(row.status.get("protectionState")) != "Protected":
            return None  # not replicating: no point yet
        (row,) = with_recovery_points(self.store, [row], [item.address.scope])
        age = float(row.status["recoveryPointAgeSeconds"])
        return RecoveryPoint(time=None, kind="CrashConsistent", rpo_seconds=int(age), age_seconds=age)
