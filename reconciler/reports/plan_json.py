"""The plan file: a documented, versioned JSON form of a ``Plan`` (docs/plan-format.md).

``apply PLANFILE`` reads it back (:func:`loads`, :func:`from_dict`), and applies it only as it was written:
:func:`seal` adds a checksum over the whole document when the plan is made, and :func:`check_saved` refuses a
file of another format version, one whose checksum does not match (it was edited), or one missing a field
apply relies on. A crafted file nested deeper than any plan (:data:`MAX_DEPTH`) is refused too: it would
otherwise exhaust the interpreter's recursion in the JSON parser or in whatever walks the values next
(diffing, redaction, rendering). :func:`from_dict` alone reads older versions too, to show a stored plan
again (``reconciler show``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import reconciler
from reconciler.core import jsontext
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
from reconciler.core.resources import MaintenanceWindow, Mode, Policy, Rollout

READABLE_VERSIONS = (1, 2, 3, PLAN_FORMAT_VERSION)
"""Versions :func:`from_dict` reads (to show them); apply takes only :data:`PLAN_FORMAT_VERSION`."""

CHECKSUM_PREFIX = "sha256:"


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


def policy_to_dict(policy: Policy | None) -> dict[str, Any] | None:
    """The settings that differ from the defaults (a default policy is ``{}``), named as in the specs."""
    if policy is None:
        return None
    out: dict[str, Any] = {}
    if policy.mode is not Mode.ENFORCE:
        out["mode"] = policy.mode.value
    if policy.protect:
        out["protect"] = True
    if policy.prune:
        out["prune"] = True
    if policy.ignore_fields:
        out["ignoreFields"] = list(policy.ignore_fields)
    if not policy.creatable:
        out["creatable"] = False
    if policy.adopt:
        out["adopt"] = True
    rollout = policy.rollout
    if rollout is not None:
        window = rollout.window
        out["rollout"] = {
            "group": rollout.group,
            "maxUnavailable": rollout.max_unavailable,
            "maintenanceWindow": None
            if window is None
            else {
                "days": list(window.days),
                "start": window.start,
                "durationSeconds": window.duration_s,
                "timezone": window.timezone,
            },
        }
    return out


def policy_from_dict(data: Mapping[str, Any] | None) -> Policy | None:
    if data is None:
        return None
    rollout: Rollout | None = None
    if data.get("rollout") is not None:
        r = data["rollout"]
        w = r.get("maintenanceWindow")
        window = (
            None
            if w is None
            else MaintenanceWindow(
                days=tuple(w["days"]),
                start=str(w["start"]),
                duration_s=int(w["durationSeconds"]),
                timezone=w["timezone"],
            )
        )
        rollout = Rollout(group=str(r["group"]), max_unavailable=int(r["maxUnavailable"]), window=window)
    return Policy(
        protect=bool(data.get("protect", False)),
        prune=bool(data.get("prune", False)),
        ignore_fields=tuple(data.get("ignoreFields", ())),
        mode=Mode(data.get("mode", Mode.ENFORCE.value)),
        creatable=bool(data.get("creatable", True)),
        adopt=bool(data.get("adopt", False)),
        rollout=rollout,
    )


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
        "policy": policy_to_dict(c.policy),
        "vacates": [str(a) for a in c.vacates],
    }


REQUIRED_KEYS = ("formatVersion", "toolVersion", "createdAt", "specDigest", "specPaths", "targets", "excludes")
REQUIRED_CHANGE_KEYS = (
    "address",
    "site",
    "tenant",
    "action",
    "actionReason",
    "noopReason",
    "disruptive",
    "error",
    "unfinished",
    "dependsOn",
    "fields",
    "before",
    "after",
    "observedVersion",
    "vacates",
    "policy",
)
"""The keys of a change (:func:`change_to_dict`) apply relies on, null where there is no value: a saved plan
missing one was edited (without ``observedVersion`` the live check would have nothing to compare)."""


def to_dict(plan: Plan, *, spec_paths: list[str] | None = None) -> dict[str, Any]:
    """The plan document, without its checksum (:func:`seal` adds it once the document is final)."""
    return {
        "formatVersion": plan.format_version,
        "toolVersion": plan.tool_version or reconciler.__version__,
        "createdAt": plan.created_at,
        "specDigest": plan.spec_digest,
        "specPaths": spec_paths or [],
        "targets": list(plan.targets),
        "excludes": list(plan.excludes),
        "summary": plan.counts(),
        "changes": [change_to_dict(c) for c in plan.changes],
        "diagnostics": [d.to_dict() for d in plan.diagnostics],
    }


def checksum(document: Mapping[str, Any]) -> str:
    """``sha256:`` of the document's canonical JSON (sorted keys, no spaces), its ``checksum`` left out:
    the same for the file as written and as any JSON tool re-indents it, different after any edit of a value."""
    body = {k: v for k, v in document.items() if k != "checksum"}
    return CHECKSUM_PREFIX + hashlib.sha256(jsontext.dumps_bytes(body, sort_keys=True)).hexdigest()


def seal(document: Mapping[str, Any]) -> dict[str, Any]:
    """``document`` with its :func:`checksum`, placed after ``toolVersion`` (call it on the final, redacted
    document: whatever changes afterwards breaks it)."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        if key == "checksum":
            continue
        out[key] = value
        if key == "toolVersion":
            out["checksum"] = ""
    out["checksum"] = checksum(document)
    return out


def check_saved(data: Any) -> None:
    """Whether apply may take ``data`` as a reviewed plan: this format version, a matching checksum, every
    field apply relies on present. :class:`PlanFormatError` saying which and what to do otherwise."""
    if not isinstance(data, dict) or "formatVersion" not in data or "changes" not in data:
        raise PlanFormatError("not a reconciler plan file (no formatVersion/changes); make one with plan -o FILE")
    depth = _data_depth(data)
    if depth > MAX_DEPTH:  # before anything walks it (the checksum)
        raise PlanFormatError(_too_deep(depth))
    version = data["formatVersion"]
    if version != PLAN_FORMAT_VERSION:
        raise PlanFormatError(
            f"plan format version {version} cannot be checked by this reconciler (it applies format "
            f"{PLAN_FORMAT_VERSION}, which carries a checksum and each change's policy); run plan -o again"
        )
    if data.get("checksum") != checksum(data):
        raise PlanFormatError(
            "the plan file was changed after plan wrote it (its checksum does not match): apply only applies a "
            "plan exactly as it was reviewed; run plan -o again"
        )
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise PlanFormatError(f"damaged plan file: no {', '.join(missing)}; run plan -o again")
    if not isinstance(data["changes"], list):
        raise PlanFormatError("damaged plan file: changes is not a list; run plan -o again")
    for number, change in enumerate(data["changes"], 1):
        if not isinstance(change, dict):
            raise PlanFormatError(f"damaged plan file: change {number} is not an object; run plan -o again")
        gone = [key for key in REQUIRED_CHANGE_KEYS if key not in change]
        if gone:
            raise PlanFormatError(
                f"damaged plan file: change {number} ({change.get('address', '?')}) has no {', '.join(gone)}; "
                "run plan -o again"
            )


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
        policy=policy_from_dict(d.get("policy")),
    )


def from_dict(data: Any) -> tuple[Plan, list[str]]:
    """The plan and the spec paths it was made from (any readable version: see :func:`check_saved` for apply)."""
    if not isinstance(data, dict) or "formatVersion" not in data or "changes" not in data:
        raise PlanFormatError("not a reconciler plan file (no formatVersion/changes); make one with plan -o FILE")
    depth = _data_depth(data)
    if depth > MAX_DEPTH:
        raise PlanFormatError(_too_deep(depth))
    # Version 1 lacked actionReason, version 2 vacates, version 3 the tool's version, the checksum and the
    # policies: they still read, to be shown (a plan without vacates has none: a replace around a dependency's
    # change then fails at the service).
    if data["formatVersion"] not in READABLE_VERSIONS:
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
            format_version=int(data["formatVersion"]),
            tool_version=str(data.get("toolVersion") or ""),
        )
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise PlanFormatError(f"damaged plan file ({exc}); re-run plan -o FILE") from exc
    return plan, [str(p) for p in data.get("specPaths", [])]
