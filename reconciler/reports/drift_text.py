"""A drift report for people: grouped by site and tenant like the plan, one line per finding with the
fields that differ (expected, actual), counts per scope, and a summary."""

from __future__ import annotations

from rich.console import Console

from reconciler.core import kinds
from reconciler.engine.drift import DriftClass, DriftEntry, DriftReport, ScopeCounts
from reconciler.reports import values
from reconciler.reports.plan_text import emit
from reconciler.reports.values import markup as escape

SYMBOLS: dict[DriftClass, tuple[str, str]] = {
    DriftClass.IN_SYNC: ("=", "dim"),
    DriftClass.DRIFTED: ("~", "yellow"),
    DriftClass.MISSING: ("-", "red"),
    DriftClass.PENDING: (">", "cyan"),
    DriftClass.UNMANAGED: ("?", "magenta"),
}
# The order findings are listed and counted in.
ORDER = (DriftClass.DRIFTED, DriftClass.MISSING, DriftClass.PENDING, DriftClass.UNMANAGED, DriftClass.IN_SYNC)


def _counts(counts: dict[str, int]) -> str:
    parts = [f"{counts[c.value]} {c.value.replace('-', ' ')}" for c in ORDER if counts.get(c.value)]
    return ", ".join(parts) or "nothing"


def _title(scope: ScopeCounts) -> str:
    total = sum(scope.counts.values())
    tail = f"  [dim]{total} object{'s' * (total != 1)}: {escape(_counts(scope.counts))}[/dim]"
    if scope.tenant:
        return f"[bold]tenant {escape(scope.tenant)}[/bold]  [dim](site {escape(scope.site)})[/dim]{tail}"
    return f"[bold]site {escape(scope.site)}[/bold]{tail}"


def _entry(e: DriftEntry) -> list[str]:
    symbol, colour = SYMBOLS[e.drift_class]
    kind = e.address.kind
    title = kinds.info(kind).title if kind in kinds.KINDS else kind
    label = f"{e.drift_class.value:<9}"
    out = [
        f"  [{colour}]{symbol} {label}[/{colour}] {escape(title)} [bold]{escape(e.address.name)}[/bold]"
        f"  [dim]{escape(str(e.address))}[/dim]",
        f"        [dim]{escape(e.reason)}[/dim]" if e.reason else "",
    ]
    for f in e.fields:
        out.append(
            f"        [yellow]~[/yellow] {escape(f.path)}: expected [green]"
            f"{escape(values.show(f.expected, kind=kind, path=f.path))}[/green], actual [red]"
            f"{escape(values.show(f.actual, kind=kind, path=f.path))}[/red]"
        )
    if e.error:
        out.append(f"        [red]error:[/red] {escape(e.error)}")
    if e.last_applied is not None and e.drift_class in (DriftClass.DRIFTED, DriftClass.MISSING):
        when = e.last_applied.applied_at[:19].replace("T", " ")
        out.append(f"        [dim]last applied {escape(when)} UTC (run {escape(e.last_applied.run_id)})[/dim]")
    return [line for line in out if line]


def render(console: Console, report: DriftReport, *, show_in_sync: bool = False) -> None:
    """Every scope with its counts; under it, every entry that is not in sync (all with ``show_in_sync``)."""
    rank = {c: i for i, c in enumerate(ORDER)}
    grouped: dict[tuple[str, str | None], list[DriftEntry]] = {}
    for e in report.entries:
        if show_in_sync or e.drift_class is not DriftClass.IN_SYNC:
            grouped.setdefault((e.site, e.tenant), []).append(e)
    lines: list[str] = []
    for scope in report.by_scope():
        lines += ["", _title(scope)]
        for e in sorted(grouped.get((scope.site, scope.tenant), []), key=lambda e: rank[e.drift_class]):
            lines += _entry(e)
    lines.append("")
    lines += health_lines(report)
    emit(console, lines)
    summary(console, report)


def health_lines(report: DriftReport) -> list[str]:
    """The health findings (protection, CPU ready), each with its suspected cause and fix."""
    if not report.health:
        return []
    lines = [f"[bold]health[/bold]  [dim]{len(report.health)} finding{'s' * (len(report.health) != 1)}[/dim]"]
    for h in report.health:
        colour = "red" if h.severity == "critical" else "yellow"
        lines.append(
            f"  [{colour}]! {h.severity:<8}[/{colour}] {escape(h.message)}  [dim]{escape(str(h.address))}[/dim]"
        )
        if h.cause:
            lines.append(f"        suspected cause: {escape(h.cause)}")
        if h.fix:
            lines.append(f"        [dim]fix: {escape(h.fix)}[/dim]")
    lines.append("")
    return lines


def summary(console: Console, report: DriftReport) -> None:
    counts = report.counts()
    total = len(report.entries)
    if not report.has_findings:
        console.print(
            f"[bold green]No drift.[/bold green] The estate matches the specs ({total} object{'s' * (total != 1)})."
        )
        return
    parts = [
        f"[{SYMBOLS[c][1]}]{counts[c.value]} {c.value.replace('-', ' ')}[/{SYMBOLS[c][1]}]"
        for c in ORDER
        if c is not DriftClass.IN_SYNC
    ]
    health = ""
    if report.health:
        health = f" [red]Health: {len(report.health)} finding{'s' * (len(report.health) != 1)}.[/red]"
    console.print(
        f"[bold]Drift:[/bold] {', '.join(parts)}; {counts[DriftClass.IN_SYNC.value]} in sync ({total} objects).{health}"
    )
    if counts[DriftClass.PENDING.value] and not any(e.last_applied for e in report.entries):
        console.print(
            "[dim]The history store holds no apply of these resources (a new or another RECONCILER_DATABASE_URL?): "
            "without one, a difference cannot be told from a change waiting for apply, so it shows as pending.[/dim]"
        )
