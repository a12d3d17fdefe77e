"""Is a saved plan still the plan? ``apply PLANFILE`` applies exactly what was reviewed, so it refuses when
the specs (their values, or what decides how apply treats them: lifecycle, rollout, maintenance window) or
the live objects the plan touches changed since the plan was made, or when what the specs and the live
state produce now is not, value for value, what the file says; and says what differs. Pure: both plans in,
reasons out.

The saved plan was written redacted, so the current plan handed in must be redacted the same way; a masked
value (``***``) on either side matches anything (the two runs may know different secrets)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from reconciler.core.addresses import Address
from reconciler.core.changes import Plan, ResourceChange
from reconciler.core.redact import MASK
from reconciler.core.resources import Policy


def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples as lists), to compare with a saved plan's values."""
    return json.loads(json.dumps(value, default=str))


def _same(saved: Any, current: Any) -> bool:
    """Equal, where a masked value on either side matches anything."""
    if MASK in (saved, current):
        return True
    if isinstance(saved, dict) and isinstance(current, dict):
        return saved.keys() == current.keys() and all(_same(saved[k], current[k]) for k in saved)
    if isinstance(saved, list) and isinstance(current, list):
        return len(saved) == len(current) and all(_same(a, b) for a, b in zip(saved, current, strict=True))
    return bool(saved == current)


def _fields(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    old, new = _plain(old or {}), _plain(new or {})
    return sorted(k for k in {*old, *new} if not _same(old.get(k), new.get(k)))


def _shown(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _value_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    """``field old -> new`` for each field that differs."""
    before, after = _plain(old or {}), _plain(new or {})
    return [f"{k} {_shown(before.get(k))} -> {_shown(after.get(k))}" for k in _fields(before, after)]


_LIFECYCLE = {
    "protect": "protect",
    "prune": "prune",
    "ignore_fields": "ignoreFields",
    "mode": "mode",
    "adopt": "adopt",
}


def policy_changes(old: Policy | None, new: Policy | None) -> list[str]:
    """What differs in how apply treats a resource, named as in the specs (``lifecycle.protect false ->
    true``, ``rollout.maxUnavailable 1 -> 3``, ``rollout.maintenanceWindow ...``)."""
    if old == new:
        return []
    if old is None or new is None:
        return ["policy"]
    out = [
        f"lifecycle.{name} {_shown(_plain(getattr(old, field)))} -> {_shown(_plain(getattr(new, field)))}"
        for field, name in _LIFECYCLE.items()
        if getattr(old, field) != getattr(new, field)
    ]
    if old.creatable != new.creatable:
        out.append(f"creatable {_shown(old.creatable)} -> {_shown(new.creatable)}")
    was, now = old.rollout, new.rollout
    if was != now:
        if was is None or now is None:
            out.append("rollout " + ("added" if was is None else "removed"))
        else:
            if was.group != now.group:
                out.append(f"rollout.group {was.group} -> {now.group}")
            if was.max_unavailable != now.max_unavailable:
                out.append(f"rollout.maxUnavailable {was.max_unavailable} -> {now.max_unavailable}")
            if was.window != now.window:
                before = _shown(dataclasses.asdict(was.window)) if was.window else "none"
                after = _shown(dataclasses.asdict(now.window)) if now.window else "none"
                out.append(f"rollout.maintenanceWindow {before} -> {after}")
    return out


def spec_changes(saved: Plan, current: Plan) -> list[str]:
    """What the specs want differently now, per address (the plan records every desired object and its
    policy): values by field name, policies with their old and new settings."""
    before = {c.address: c for c in saved.changes if c.after is not None}
    now = {c.address: c for c in current.changes if c.after is not None}
    out: list[str] = []
    for address in sorted({*before, *now}, key=str):
        if address not in before:
            out.append(f"+ {address}: new in the specs")
        elif address not in now:
            out.append(f"- {address}: no longer in the specs")
        else:
            differ = _fields(before[address].after, now[address].after)
            differ += policy_changes(before[address].policy, now[address].policy)
            if differ:
                out.append(f"~ {address}: {', '.join(differ)}")
    return out


def live_changes(saved: Plan, current: Plan) -> list[str]:
    """What changed on the live objects the saved plan would touch, since it was made: by version where
    the backend gives one, by value where it does not."""
    now: dict[Address, ResourceChange] = {c.address: c for c in current.changes}
    out: list[str] = []
    for c in saved.pending:
        cur = now.get(c.address)
        if cur is None:
            continue  # no longer planned at all: spec_changes or the targets say why
        if c.before is None and cur.before is not None:
            out.append(f"+ {c.address}: now exists (it was to be created)")
        elif c.before is not None and cur.before is None:
            out.append(f"- {c.address}: no longer exists")
        elif c.observed_version and cur.observed_version != c.observed_version:
            changed = _fields(c.before, cur.before)
            what = ", ".join(changed) if changed else "its state"
            out.append(f"~ {c.address}: {what} changed (version {c.observed_version} -> {cur.observed_version})")
        elif not c.observed_version and _fields(c.before, cur.before):
            out.append(f"~ {c.address}: {', '.join(_fields(c.before, cur.before))} changed")
    return out


def reviewed_changes(saved: Plan, current: Plan) -> list[str]:
    """Where the changes the specs and the live state produce now differ from the saved plan's, value for
    value (``~ address: field saved -> now``): the file was edited, or its digest forged. Empty when apply
    would carry out exactly what the file says."""
    now: dict[Address, ResourceChange] = {c.address: c for c in current.changes}
    out: list[str] = []
    for c in saved.pending:
        cur = now.get(c.address)
        if cur is None:
            out.append(f"- {c.address}: not planned any more")
            continue
        differ = [] if c.action is cur.action else [f"action {c.action} -> {cur.action}"]
        differ += _value_changes(c.after, cur.after)
        differ += policy_changes(c.policy, cur.policy)
        if differ:
            out.append(f"~ {c.address}: {', '.join(differ)}")
    return out
