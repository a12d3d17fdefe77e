"""``reconciler watch``, the pure part: the interval and its jitter, which drift a cycle may correct,
when a change of drift is worth a notification, and the notification itself. No I/O, no clock: the
caller passes the random generator and the report (docs/scheduling.md)."""

from __future__ import annotations

import enum
import random
from collections.abc import Collection, Sequence
from typing import Any

from reconciler.core.addresses import Address
from reconciler.core.changes import Plan
from reconciler.core.resources import Mode, Resource
from reconciler.engine.drift import DriftClass, DriftEntry, DriftReport

NOTIFY_CLASSES = (DriftClass.DRIFTED, DriftClass.MISSING, DriftClass.UNMANAGED)
"""What a notification is about: the estate changed outside reconciler. ``pending`` (a spec change not
applied yet) is counted in the summary but is not drift, so it never triggers a post by itself."""

WEBHOOK_LIMIT = 50  # addresses listed in a webhook payload


class Notice(enum.StrEnum):
    APPEARED = "drift.appeared"  # none before, some now
    CHANGED = "drift.changed"  # some before and now, but not the same objects
    CLEARED = "drift.cleared"  # some before, none now


def parse_jitter(value: str) -> float:
    """``10%`` or ``0.1`` -> 0.1; between 0 and 1 (a whole interval at most)."""
    text = value.strip()
    try:
        fraction = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a jitter; write a percentage (10%) or a fraction (0.1)") from None
    if not 0 <= fraction <= 1:
        raise ValueError(f"jitter {value!r} must be between 0% and 100% of the interval")
    return fraction


def next_delay(interval_s: float, jitter: float, rng: random.Random) -> float:
    """Seconds from one cycle's start to the next: the interval plus a random offset of up to ``jitter``
    of it, so that many watchers started together do not read the estate at the same moment."""
    return interval_s + rng.uniform(0, jitter * interval_s) if jitter else interval_s


def drifted(report: DriftReport) -> tuple[DriftEntry, ...]:
    """The entries a notification is about (``NOTIFY_CLASSES``), in report order."""
    return tuple(e for e in report.entries if e.drift_class in NOTIFY_CLASSES)


def notice(previous: frozenset[str] | None, current: frozenset[str]) -> Notice | None:
    """What changed between two cycles' drifted addresses (``previous`` None: the first cycle, taken as
    none), or None when nothing worth a post did."""
    before = previous or frozenset()
    if not before and current:
        return Notice.APPEARED
    if before and not current:
        return Notice.CLEARED
    if before != current:
        return Notice.CHANGED
    return None


def corrections(report: DriftReport, *, apply_pending: bool = False) -> frozenset[Address]:
    """What auto-correct may re-apply: drifted and missing resources (put back as last applied), and
    pending ones only with ``apply_pending``. Never observe-only resources, never unmanaged objects
    (no prune), never a resource that cannot be planned (``error``: e.g. a VM that does not exist)."""
    wanted = {DriftClass.DRIFTED, DriftClass.MISSING}
    if apply_pending:
        wanted.add(DriftClass.PENDING)
    return frozenset(
        e.address for e in report.entries if e.drift_class in wanted and e.mode is Mode.ENFORCE and not e.error
    )


def scopes(resources: Sequence[Resource], addresses: Collection[Address]) -> frozenset[str]:
    """The lock scopes (``site/NAME``, ``tenant/NAME``) of the resources at ``addresses``, as apply takes them."""
    chosen = [r for r in resources if r.address in addresses]
    return frozenset({f"site/{r.site}" for r in chosen if r.site} | {f"tenant/{r.tenant}" for r in chosen if r.tenant})


def restrict(plan: Plan, addresses: Collection[Address]) -> Plan:
    """The plan with only the changes at ``addresses`` left to carry out (no-ops kept for the record)."""
    from dataclasses import replace

    return replace(plan, changes=tuple(c for c in plan.changes if c.address in addresses or not c.is_change))


def _counts(report: DriftReport) -> dict[str, int]:
    counts = report.counts()
    return {"total": sum(counts.values()), **counts}


def webhook_payload(
    report: DriftReport, event: Notice, *, host: str = "", limit: int = WEBHOOK_LIMIT
) -> dict[str, Any]:
    """The JSON a webhook receives: a top-level ``text`` (what Slack and Teams incoming webhooks render),
    then the counts, the drifted addresses (the first ``limit``) and the counts per site and tenant."""
    found = drifted(report)
    counts = _counts(report)
    where = f" on {host}" if host else ""
    if event is Notice.CLEARED:
        text = f"reconciler: drift cleared{where}: the estate matches the specs again ({counts['in-sync']} in sync)."
    else:
        what = ", ".join(f"{counts[c.value]} {c.value}" for c in NOTIFY_CLASSES if counts[c.value])
        headline = "drift appeared" if event is Notice.APPEARED else "drift changed"
        lines = [f"reconciler: {headline}{where}: {what} ({len(found)} of {counts['total']} objects)."]
        lines += [f"- {e.drift_class.value} {e.address}" for e in found[:10]]
        if len(found) > 10:
            lines.append(f"- ... and {len(found) - 10} more")
        text = "\n".join(lines)
    return {
        "text": text,
        "event": event.value,
        "createdAt": report.created_at,
        "host": host or None,
        "summary": counts,
        "drifted": [
            {"address": str(e.address), "class": e.drift_class.value, "site": e.site, "tenant": e.tenant}
            for e in found[:limit]
        ],
        "more": max(0, len(found) - limit),
        "scopes": [{"site": s.site, "tenant": s.tenant, "counts": s.counts} for s in report.by_scope()],
    }


__all__ = [
    "NOTIFY_CLASSES",
    "WEBHOOK_LIMIT",
    "Notice",
    "corrections",
    "drifted",
    "next_delay",
    "notice",
    "parse_jitter",
    "restrict",
    "scopes",
    "webhook_payload",
]
