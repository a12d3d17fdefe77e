"""A plan for people: grouped by site and tenant, one symbol per action, field diffs, a summary."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.console import Console

from reconciler.core import kinds
from reconciler.core.changes import Action, ActionReason, NoopReason, Plan, ResourceChange
from reconciler.reports import values
from reconciler.reports.values import markup as escape

SYMBOLS: dict[Action, tuple[str, str]] = {
    Action.CREATE: ("+", "green"),
    Action.UPDATE: ("~", "yellow"),
    Action.REPLACE: ("-/+", "magenta"),
    Action.DELETE: ("-", "red"),
    Action.ADOPT: ("&", "blue"),
    Action.NOOP: ("=", "dim"),
    Action.READ: ("<=", "cyan"),
}


def _group_key(c: ResourceChange) -> tuple[int, str, str]:
    if c.tenant:
        return (1, c.site, c.tenant)
    return (0, c.site, "")


def _groups(changes: Iterable[ResourceChange]) -> dict[tuple[int, str, str], list[ResourceChange]]:
    out: dict[tuple[int, str, str], list[ResourceChange]] = {}
    for c in changes:
        out.setdefault(_group_key(c), []).append(c)
    return dict(sorted(out.items()))


def _title(key: tuple[int, str, str]) -> str:
    return f"tenant {key[2]}  [dim](site {key[1]})[/dim]" if key[0] else f"site {key[1]}"


def render(console: Console, plan: Plan, *, show_unchanged: bool = False) -> None:
    shown = [
        c
        for c in plan.changes
        if c.is_change
        or c.error
        or c.fields
        or c.noop_reason in (NoopReason.BLOCKED, NoopReason.NOT_DECLARED)
        or show_unchanged
    ]
    lines: list[str] = []
    for key, changes in _groups(shown).items():
        lines += ["", f"[bold]{_title(key)}[/bold]"]
        for c in changes:
            lines += _change(c)
    lines.append("")
    emit(console, lines)
    summary(console, plan)


_COLUMNS = ("create", "update", "replace", "delete", "adopt", "disruptive", "unchanged")


def _tally(changes: Iterable[ResourceChange]) -> dict[str, int]:
    out = dict.fromkeys(_COLUMNS, 0)
    for c in changes:
        if c.error:
            continue  # listed by name under the table
        if c.is_change:
            out[c.action.value] += 1
            out["disruptive"] += bool(c.disruptive)
        elif c.noop_reason not in (NoopReason.BLOCKED, NoopReason.NOT_DECLARED):
            out["unchanged"] += 1
    return out


def _table(title: str, rows: list[tuple[str, dict[str, int]]], width: int, columns: tuple[str, ...]) -> list[str]:
    lines = [f"[bold]{escape(title.ljust(width))}[/bold]  " + "  ".join(f"{c:>10}" for c in columns)]
    for name, tally in rows:
        lines.append(f"{escape(name.ljust(width))}  " + "  ".join(f"{tally[c]:>10}" for c in columns))
    return lines


def counts_view(console: Console, plan: Plan) -> None:
    """The plan as counts, for a plan too large to read change by change (``plan --summary``): per kind,
    then per site and tenant that has something to do, then the summary line and every error by name.
    Blocked changes, errors and live objects kept undeclared are left to the summary line."""
    by_kind: dict[str, list[ResourceChange]] = {}
    for c in plan.changes:
        by_kind.setdefault(c.address.kind, []).append(c)
    kind_rows = [(kind, _tally(changes)) for kind, changes in sorted(by_kind.items())]
    scope_rows = []
    quiet = 0
    for key, changes in _groups(plan.changes).items():
        tally = _tally(changes)
        if any(tally[c] for c in _COLUMNS if c != "unchanged"):
            scope_rows.append((f"tenant {key[2]}" if key[0] else f"site {key[1]}", tally))
        else:
            quiet += 1
    width = max(len(name) for name, _ in [("site or tenant", {}), *kind_rows, *scope_rows])
    adopting = any(tally["adopt"] for _, tally in kind_rows)
    columns = _COLUMNS if adopting else tuple(c for c in _COLUMNS if c != "adopt")  # the column when it counts
    lines = ["", *_table("kind", kind_rows, width, columns), ""]
    if scope_rows:
        lines += _table("site or tenant", scope_rows, width, columns)
    if quiet:
        quiet_note = f"and {quiet} more with nothing to do" if scope_rows else "no site or tenant has anything to do"
        lines.append(f"[dim]({quiet_note})[/dim]")
    lines.append("")
    emit(console, lines)
    summary(console, plan)


_TAG = re.compile(r"(?<!\\)\[/?[a-z][a-z ]*\]")


def emit(console: Console, lines: list[str]) -> None:
    """Print markup lines. To a terminal through rich, in one call; to a file or pipe (CI logs, a
    1,000-tenant plan saved for review) as plain text written directly, which is many times faster:
    every value in the lines was escaped, so only our own style tags need removing. Every line has its
    unprintable characters escaped here too, whatever built it: a live name holding ESC or a newline
    cannot clear, move or forge a line of the plan a reviewer reads."""
    if not lines:
        return
    lines = [values.text(line) for line in lines]
    if console.is_terminal:
        console.print("\n".join(lines), highlight=False)
        return
    plain = "\n".join(_TAG.sub("", line).replace("\\[", "[") for line in lines)
    console.file.write(plain + "\n")
    console.file.flush()


def _change(c: ResourceChange) -> list[str]:
    """The lines of one change, in rich markup."""
    out: list[str] = []
    symbol, colour = SYMBOLS[c.action]
    if c.error:
        symbol, colour = "!", "red"
    title = kinds.info(c.address.kind).title if c.address.kind in kinds.KINDS else c.address.kind
    # A no-op says why nothing happens; a change without field changes (finishing an interrupted
    # procedure) says why it is a change at all.
    why = c.action is Action.NOOP or c.action_reason in (ActionReason.RESUME, ActionReason.ADOPT)
    note = f"  [dim]({escape(c.reason)})[/dim]" if why and c.reason else ""
    out.append(
        f"  [{colour}]{symbol:>3}[/{colour}] {escape(title)} [bold]{escape(c.address.name)}[/bold]{note}"
        f"  [dim]{escape(str(c.address))}[/dim]",
    )
    if c.error:
        out.append(f"        [red]error:[/red] {escape(c.error)}")
        return out
    if c.action is Action.CREATE and c.after:
        for k, v in c.after.items():
            if v not in (None, "", [], {}):
                shown = values.show(v, kind=c.address.kind, path=k)
                out.append(f"        [green]+[/green] {escape(k)}: {escape(shown)}")
    kind = c.address.kind
    for f in c.fields:
        lock = " [magenta](forces replacement)[/magenta]" if f.immutable else ""
        out.append(
            f"        [yellow]~[/yellow] {escape(f.path)}: "
            f"[red]{escape(values.show(f.old, kind=kind, path=f.path))}[/red]"
            f" → [green]{escape(values.show(f.new, kind=kind, path=f.path))}[/green]{lock}",
        )
    if c.vacates:
        names = ", ".join(str(a) for a in c.vacates)
        out.append(
            f"        [bold yellow]↻ in order:[/bold yellow] deletes {escape(names)} first, then makes this change; "
            "their own steps create them again after it"
        )
    if c.disruptive:
        out.append(f"        [bold yellow]⚠ disruptive:[/bold yellow] {escape(c.disruptive)}")
    if c.unfinished and c.action_reason is not ActionReason.RESUME:  # a resume says it in its title line
        out.append(f"        [bold yellow]⏸ unfinished:[/bold yellow] {escape(c.unfinished)}")
    return out


def summary(console: Console, plan: Plan) -> None:
    counts = plan.counts()
    errors = plan.errors
    blocked = sum(1 for c in plan.changes if c.noop_reason is NoopReason.BLOCKED)
    kept = sum(1 for c in plan.changes if c.noop_reason is NoopReason.NOT_DECLARED)
    unchanged = sum(1 for c in plan.changes if not c.is_change and not c.error) - blocked - kept
    disruptive = sum(1 for c in plan.pending if c.disruptive)
    if errors:
        console.print(f"[bold red]✗ {len(errors)} error{'s' * (len(errors) != 1)} in the plan:[/bold red]")
        for c in errors:
            console.print(
                f"  [red]![/red] {escape(values.text(c.address))}: {escape(values.text(c.error))}", highlight=False
            )
    if not plan.pending:
        if not errors:
            declared = len(plan.changes) - kept
            note = f"; {kept} live object{'s' * (kept != 1)} not declared, kept" if kept else ""
            console.print(
                f"[bold green]No changes.[/bold green] The estate matches the specs ({declared} resources{note})."
            )
        return
    parts = [
        f"[green]{counts['create']} to create[/green]",
        f"[yellow]{counts['update']} to update[/yellow]",
        f"[magenta]{counts['replace']} to replace[/magenta]",
        f"[red]{counts['delete']} to delete[/red]",
    ]
    if counts[Action.ADOPT.value]:
        parts.append(f"[blue]{counts[Action.ADOPT.value]} to adopt[/blue]")
    extra = f", {disruptive} disruptive" if disruptive else ""
    extra += f", {blocked} blocked" if blocked else ""
    extra += f", {kept} not declared and kept" if kept else ""
    console.print(f"[bold]Plan:[/bold] {', '.join(parts)}; {unchanged} unchanged{extra}.")
