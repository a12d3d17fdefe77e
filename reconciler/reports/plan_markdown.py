"""The plan as Markdown that fits a pull-request comment (GitHub: 65,536 characters at most): the headline,
the plan's errors, a table of counts per site and tenant, then a collapsible ``<details>`` with every change
field by field (disruptive changes flagged, adoptions and kept objects with their reason). Past :data:`LIMIT`
it is cut, with a note saying how much was left out. Pure; every value is escaped (``markdown.cell``).

``reconciler plan --format markdown`` prints it; ``reconciler show RUN_ID --format markdown`` renders a stored
plan with it; the GitOps pipelines post it on the pull request (docs/gitops.md)."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.core import kinds
from reconciler.core.changes import Action, ActionReason, NoopReason, Plan, ResourceChange
from reconciler.reports import markdown, values
from reconciler.reports.markdown import cell

LIMIT = 65_000
SYMBOLS: dict[Action, str] = {
    Action.CREATE: "➕ create",
    Action.UPDATE: "✏️ update",
    Action.REPLACE: "♻️ replace",
    Action.DELETE: "🗑️ delete",
    Action.ADOPT: "🤝 adopt",
    Action.NOOP: "kept",
    Action.READ: "read",
}
_COLUMNS = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE, Action.ADOPT)


def _shown(c: ResourceChange) -> bool:
    """What the comment lists: changes, errors, and live objects kept undeclared (not what is in sync)."""
    return c.is_change or bool(c.error) or c.noop_reason in (NoopReason.BLOCKED, NoopReason.NOT_DECLARED)


def _scope(c: ResourceChange) -> str:
    return f"tenant {c.tenant} (site {c.site})" if c.tenant else f"site {c.site}"


def headline(plan: Plan) -> str:
    """One line: what the plan does, in the words of the text summary."""
    counts = plan.counts()
    if not plan.pending:
        return f"{len(plan.errors)} errors, nothing to apply" if plan.errors else "no changes"
    parts = [f"{counts[a.value]} to {a.value}" for a in _COLUMNS if counts[a.value] or a is not Action.ADOPT]
    disruptive = sum(1 for c in plan.pending if c.disruptive)
    tail = f", {disruptive} disruptive" if disruptive else ""
    tail += f", {len(plan.errors)} errors" if plan.errors else ""
    return ", ".join(parts) + tail


def render(plan: Plan, *, limit: int = LIMIT) -> str:
    """The plan as Markdown of at most ``limit`` characters."""
    budget = limit - 300  # room for the truncation note
    out = "\n".join(_head(plan)) + "\n"
    rows = [row for c in plan.changes if _shown(c) for row in _rows(c)]
    left_out = 0
    if rows:
        changes = sum(1 for c in plan.changes if _shown(c))
        details, left_out = markdown.collapsed(
            rows,
            summary=f"{changes} change{'s' * (changes != 1)}, field by field",
            columns=("action", "resource", "field", "before", "after", "note"),
            room=budget - len(out),
        )
        out += details
    if left_out:
        out += (
            f"\n> **Truncated:** {left_out} more row{'s' * (left_out != 1)} left out to fit a comment; the whole "
            "plan: `reconciler plan --json`, or the saved plan artifact.\n"
        )
    if len(out) > limit:  # a head alone too long (thousands of scopes with changes): cut hard
        tail = "\n\n> **Truncated** to fit a comment.\n"
        out = out[: limit - len(tail)] + tail
    return out


def _head(plan: Plan) -> list[str]:
    head = [f"### reconciler plan — {cell(headline(plan))}", ""]
    head += [f"<sub>{cell(plan.created_at)} · spec digest {cell(plan.spec_digest[:12])}</sub>", ""]
    if plan.errors:
        head += [f"**{len(plan.errors)} error{'s' * (len(plan.errors) != 1)}: apply refuses this plan.**", ""]
        head += [f"- `{cell(str(c.address))}`: {cell(c.error)}" for c in plan.errors[:50]]
        if len(plan.errors) > 50:
            head.append(f"- … and {len(plan.errors) - 50} more")
        head.append("")
    tallies = _tallies(plan.changes)
    if not tallies:
        kept = sum(1 for c in plan.changes if c.noop_reason is NoopReason.NOT_DECLARED)
        note = f" ({kept} live objects not declared, kept)" if kept else ""
        return [*head, f"No changes: the estate matches the specs{note}.", ""]
    head += [
        "| site or tenant | " + " | ".join(a.value for a in _COLUMNS) + " | disruptive |",
        "| --- |" + " ---: |" * (len(_COLUMNS) + 1),
    ]
    for scope, tally in tallies.items():
        head.append(f"| {cell(scope)} | " + " | ".join(str(tally[a.value]) for a in _COLUMNS) + f" | {tally['d']} |")
    return [*head, ""]


def _tallies(changes: Iterable[ResourceChange]) -> dict[str, dict[str, int]]:
    """Pending changes per site and tenant, sites first."""
    out: dict[str, dict[str, int]] = {}
    for c in sorted(changes, key=lambda c: (c.tenant is not None, c.site, c.tenant or "")):
        if not c.is_change or c.error:
            continue
        tally = out.setdefault(_scope(c), {**{a.value: 0 for a in _COLUMNS}, "d": 0})
        tally[c.action.value] += 1
        tally["d"] += bool(c.disruptive)
    return out


def _rows(c: ResourceChange) -> list[str]:
    """A change's table rows: one per field changed (or one for the change as a whole)."""
    title = kinds.info(c.address.kind).title if c.address.kind in kinds.KINDS else c.address.kind
    what = "❌ error" if c.error else SYMBOLS[c.action]
    label = f"{cell(title)} **{cell(c.address.name)}**<br><sub>{cell(_scope(c))}</sub>"
    notes: list[str] = []
    if c.error:
        notes.append(cell(c.error))
    elif c.action is Action.NOOP or c.action_reason in (ActionReason.RESUME, ActionReason.ADOPT):
        notes.append(cell(c.reason))
    if c.disruptive:
        notes.append(f"⚠️ disruptive: {cell(c.disruptive)}")
    if c.unfinished and c.action_reason is not ActionReason.RESUME:
        notes.append(f"⏸ unfinished: {cell(c.unfinished)}")
    fields = [
        (
            cell(f.path),
            cell(values.show(f.old, kind=c.address.kind, path=f.path)) if f.old is not None else "",
            cell(values.show(f.new, kind=c.address.kind, path=f.path)) + (" (forces replacement)" * f.immutable),
        )
        for f in c.fields
    ]
    if c.action is Action.CREATE and c.after:
        fields = [
            (cell(k), "", cell(values.show(v, kind=c.address.kind, path=k)))
            for k, v in c.after.items()
            if v not in (None, "", [], {})
        ]
    note = "<br>".join(notes)
    if not fields:
        return [f"| {what} | {label} | | | | {note} |"]
    return [
        f"| {what if i == 0 else ''} | {label if i == 0 else ''} | {path} | {old} | {new} | {note if i == 0 else ''} |"
        for i, (path, old, new) in enumerate(fields)
    ]


__all__ = ["LIMIT", "headline", "render"]
