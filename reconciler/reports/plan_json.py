"""The plan file: a documented, versioned JSON form of a ``Plan`` (docs/plan-format.md).

``apply PLANFILE`` reads it back (:func:`loads`, :func:`from_dict`); a plan written by another format
version is refused rather than half understood, and so is a crafted file nested deeper than any plan
(:data:`MAX_DEPTH`), which would otherwise exhaust the interpreter's recursion in the JSON parser or in
whatever walks the values next (diffing, redaction, rendering)."""

from __future__ import annotations

import json
from typing import Any

from reconciler.core.addresses import Address
from reconciler.core.changes import (
    PLAN_FORMAT_VERSION,
    Action,
    ActionReason,
    FieldChange,
    NoopReason,
    Plan,
    ResourceChange,
)


class PlanFormatError(ValueError):
    """A plan file that cannot be used; the message says why and what to do."""


MAX_DEPTH = 64
"""Nesting a plan file may have (a plan's deepest values, BIOS attributes in a field change, are under 10
levels; spec files have the same limit)."""


def loads(text: str) -> Any:
    """The JSON document of a plan file (then :func:`from_dict`), refused with a :class:`PlanFormatError`
    when it is not JSON or is nested too deep for the parser. Use it, not ``json.loads``: a crafted file of
    a hundred thousand ``[`` makes the parser raise RecursionError, which is turned into that refusal here;
    :func:`from_dict` refuses anything deeper than :data:`MAX_DEPTH` that the parser did read."""
    try:
        return json.loads(text)
    except RecursionError:
        raise PlanFormatError(_too_deep(None)) from None
    except ValueError as exc:
        raise PlanFormatError(f"not JSON ({exc}); make a plan file with plan -o FILE") from exc


def _too_deep(depth: int | None) -> str:
    found = f" ({depth} levels)" if depth is not None else ""
    return f"nested deeper than {MAX_DEPTH} levels{found}: not a plan file reconciler wrote; make one with plan -o FILE"


def _data_depth(data: Any) -> int:
    """The deepest nesting of parsed JSON data, without recursion (a plan's values are walked once more,
    which costs little next to parsing them)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def change_to_dict(c: ResourceChange) -> dict[str, Any]:
    return {
        "address": str(c.address),
        "kind": c.address.kind,
        "scope": c.address.scope,
        "name": c.address.name,
        "site": c.site,
        "tenant": c.tenant,
        "action": c.action.value,
        "reason": c.reason,
        "actionReason": c.action_reason.value if c.action_reason else None,
        "noopReason": c.noop_reason.value if c.noop_reason else None,
        "disruptive": c.disruptive or None,
        "error": c.error or None,
        "unfinished": c.unfinished or None,
        "dependsOn": [str(d) for d in c.depends_on],
        "fields": [{"path": f.path, "old": f.old, "new": f.new, "immutable": f.immutable} for f in c.fields],
        "before": c.before,
        "after": c.after,
        "observedVersion": c.observed_version or None,
        "vacates": [str(a) for a in c.vacates],
    }


def to_dict(plan: Plan, *, spec_paths: list[str] | None = None) -> dict[str, Any]:
    return {
        "formatVersion": plan.format_version,
        "createdAt": plan.created_at,
        "specDigest": plan.spec_digest,
        "specPaths": spec_paths or [],
        "targets": list(plan.targets),
        "excludes": list(plan.excludes),
        "summary": plan.counts(),
        "changes": [change_to_dict(c) for c in plan.changes],
        "diagnostics": [d.to_dict() for d in plan.diagnostics],
    }


def _change(d: dict[str, Any]) -> ResourceChange:
    return ResourceChange(
        address=Address.parse(d["address"]),
        action=Action(d["action"]),
        before=d.get("before"),
        after=d.get("after"),
        fields=tuple(
            FieldChange(path=f["path"], old=f.get("old"), new=f.get("new"), immutable=bool(f.get("immutable")))
            for f in d.get("fields", [])
        ),
        reason=d.get("reason") or "",
        noop_reason=NoopReason(d["noopReason"]) if d.get("noopReason") else None,
        action_reason=ActionReason(d["actionReason"]) if d.get("actionReason") else None,
        disruptive=d.get("disruptive") or "",
        error=d.get("error") or "",
        unfinished=d.get("unfinished") or "",
        depends_on=tuple(Address.parse(a) for a in d.get("dependsOn", [])),
        site=d.get("site") or "",
        tenant=d.get("tenant"),
        observed_version=d.get("observedVersion") or "",
        vacates=tuple(Address.parse(a) for a in d.get("vacates", [])),
    )


def from_dict(data: Any) -> tuple[Plan, list[str]]:
    """The plan and the spec paths it was made from."""
    if not isinstance(data, dict) or "formatVersion" not in data or "changes" not in data:
        raise PlanFormatError("not a reconciler plan file (no formatVersion/changes); make one with plan -o FILE")
    depth = _data_depth(data)
    if depth > MAX_DEPTH:
        raise PlanFormatError(_too_deep(depth))
    # Version 1 lacked actionReason, version 2 vacates: their plans still read (the applier re-plans each step,
    # and a plan without vacates has none: a replace around a dependency's change then fails at the service).
    if data["formatVersion"] not in (1, 2, PLAN_FORMAT_VERSION):
        raise PlanFormatError(
            f"plan format version {data['formatVersion']} is not {PLAN_FORMAT_VERSION}; re-run plan with this version"
        )
    try:
        plan = Plan(
            changes=tuple(_change(c) for c in data["changes"]),
            created_at=str(data["createdAt"]),
            spec_digest=str(data["specDigest"]),
            targets=tuple(data.get("targets", [])),
            excludes=tuple(data.get("excludes", [])),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise PlanFormatError(f"damaged plan file ({exc}); re-run plan -o FILE") from exc
    return plan, [str(p) for p in data.get("specPaths", [])]
