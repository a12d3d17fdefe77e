"""Is a saved plan still the plan? ``apply PLANFILE`` applies exactly what was reviewed, so it refuses
when the specs or the live objects the plan touches changed since the plan was made, and says what
changed. Pure: both plans in, reasons out."""

from __future__ import annotations

from typing import Any

from reconciler.core.addresses import Address
from reconciler.core.changes import Plan


def _fields(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    old, new = old or {}, new or {}
    return sorted(k for k in {*old, *new} if old.get(k) != new.get(k))


def spec_changes(saved: Plan, current: Plan) -> list[str]:
    """What the specs want differently now, per address (the plan records every desired object)."""
    before = {c.address: c.after for c in saved.changes if c.after is not None}
    now = {c.address: c.after for c in current.changes if c.after is not None}
    out: list[str] = []
    for address in sorted({*before, *now}, key=str):
        if address not in before:
            out.append(f"+ {address}: new in the specs")
        elif address not in now:
            out.append(f"- {address}: no longer in the specs")
        elif before[address] != now[address]:
            out.append(f"~ {address}: {', '.join(_fields(before[address], now[address]))}")
    return out


def live_changes(saved: Plan, current: Plan) -> list[str]:
    """What changed on the live objects the saved plan would touch, since it was made."""
    now: dict[Address, Any] = {c.address: c for c in current.changes}
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
    return out
