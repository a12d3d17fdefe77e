"""The planner: pure. Desired resources plus what providers observed in, a ``Plan`` out.

No I/O, no clock (the caller passes ``created_at``), no randomness: the same input always plans the
same changes, which is what makes fixture tests and saved plans trustworthy."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.core import kinds
from reconciler.core.addresses import Address
from reconciler.core.changes import Action, NoopReason, Plan, ResourceChange
from reconciler.core.diagnostics import Diagnostic
from reconciler.core.resources import Mode, Observed, Resource
from reconciler.engine.diff import field_changes


def plan_one(resource: Resource, observed: Observed | None) -> ResourceChange:
    """The change one resource needs, given its live object (None: it does not exist)."""
    info = kinds.info(resource.kind)
    base: dict[str, Any] = {
        "address": resource.address,
        "after": dict(resource.desired),
        "depends_on": resource.depends_on,
        "site": resource.site,
        "tenant": resource.tenant,
    }
    observe = resource.policy.mode is Mode.OBSERVE
    if observed is None:
        if not resource.policy.creatable:
            what = "VM" if resource.kind == "hyperv.vm_memory" else "host"
            return ResourceChange(
                action=Action.NOOP,
                before=None,
                noop_reason=NoopReason.MISSING_UNMANAGED,
                error=f"{what} {resource.address.name!r} does not exist; the tool configures {what}s, it never "
                f"creates them" + (f" (declared at {resource.source})" if resource.source else ""),
                reason=f"{what} not found",
                **base,
            )
        if observe:
            return ResourceChange(
                action=Action.NOOP,
                before=None,
                noop_reason=NoopReason.OBSERVE_ONLY,
                reason="missing, but observe-only: not created",
                **base,
            )
        return ResourceChange(action=Action.CREATE, before=None, reason="does not exist", **base)
    fields = field_changes(info, resource.desired, observed.data, resource.policy.ignore_fields)
    before = dict(observed.data)
    common = {**base, "before": before, "observed_version": observed.version}
    if not fields:
        ignored = resource.policy.ignore_fields and field_changes(info, resource.desired, observed.data)
        return ResourceChange(
            action=Action.NOOP,
            noop_reason=NoopReason.IGNORED_FIELDS if ignored else NoopReason.IN_SYNC,
            reason="differs only in ignored fields" if ignored else "in sync",
            **common,
        )
    if observe:
        return ResourceChange(
            action=Action.NOOP,
            fields=fields,
            noop_reason=NoopReason.OBSERVE_ONLY,
            reason="differs, but observe-only: not changed",
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
            fields=fields,
            reason=f"{', '.join(immutable)} cannot change in place",
            disruptive=disruptive,
            error=refused,
            **common,
        )
    return ResourceChange(
        action=Action.UPDATE,
        fields=fields,
        reason=", ".join(f.path for f in fields),
        disruptive=disruptive,
        **common,
    )


def select(
    resources: Sequence[Resource], *, targets: Iterable[str] = (), excludes: Iterable[str] = ()
) -> list[Resource]:
    """Resources picked by ``--target`` (with everything they depend on) minus ``--exclude`` (with
    everything that depends on what is excluded, since it could not be applied in order)."""
    targets, excludes = list(targets), list(excludes)
    by_address = {r.address: r for r in resources}
    chosen: set[Address]
    if targets:
        chosen = set()
        stack = [r.address for r in resources if any(r.address.matches(t) for t in targets)]
        while stack:
            addr = stack.pop()
            if addr in chosen or addr not in by_address:
                continue
            chosen.add(addr)
            stack.extend(by_address[addr].depends_on)
    else:
        chosen = set(by_address)
    if excludes:
        dropped = {r.address for r in resources if any(r.address.matches(e) for e in excludes)}
        changed = True
        while changed:
            changed = False
            for r in resources:
                if r.address not in dropped and any(d in dropped for d in r.depends_on):
                    dropped.add(r.address)
                    changed = True
        chosen -= dropped
    return [r for r in resources if r.address in chosen]


def _blocks(change: ResourceChange) -> bool:
    return bool(change.error) or change.noop_reason is NoopReason.BLOCKED


def spec_digest(resources: Sequence[Resource]) -> str:
    """A digest of everything the specs want: a saved plan is stale when it changes."""
    h = hashlib.sha256()
    for r in sorted(resources, key=lambda r: str(r.address)):
        h.update(str(r.address).encode())
        h.update(json.dumps(r.desired, sort_keys=True, default=str).encode())
    return h.hexdigest()


def make_plan(
    resources: Sequence[Resource],
    observed: Mapping[Address, Observed | None],
    *,
    created_at: str,
    targets: Sequence[str] = (),
    excludes: Sequence[str] = (),
    diagnostics: Sequence[Diagnostic] = (),
) -> Plan:
    """Plan every resource; a resource whose dependency cannot be planned is blocked, not guessed."""
    changes: dict[Address, ResourceChange] = {}
    for r in resources:  # expand yields dependencies before dependents, so blocks propagate in one pass
        blocker = next((d for d in r.depends_on if d in changes and _blocks(changes[d])), None)
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
            )
            continue
        changes[r.address] = plan_one(r, observed.get(r.address))
    return Plan(
        changes=tuple(changes[r.address] for r in resources),
        created_at=created_at,
        spec_digest=spec_digest(resources),
        diagnostics=tuple(diagnostics),
        targets=tuple(targets),
        excludes=tuple(excludes),
    )
