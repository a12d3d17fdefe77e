"""A drill report for people: per tenant (failed first) its verdict, drill network, RPO against its policy and RTO;
under it each target with its test failover and cleanup, each VM with the recovery point it failed over from; then
every failure with its cause, and the headline."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from reconciler.engine.drill import DrillReport, TargetDrill, TenantDrill, Verdict
from reconciler.reports import drill_common as common
from reconciler.reports.plan_text import emit

COLOURS = {Verdict.PASSED: "green", Verdict.FAILED: "red", Verdict.ERROR: "yellow", Verdict.INTERRUPTED: "yellow"}
RPO_COLOURS = {"ok": "green", "warning": "yellow", "critical": "red", "unknown": "dim"}


def _tenant(t: TenantDrill) -> list[str]:
    colour = COLOURS[t.verdict]
    network = f"  [dim]network {escape(t.network)}[/dim]" if t.network else ""
    lines = [
        "",
        f"[bold]tenant {escape(t.tenant)}[/bold]  [dim](site {escape(t.site)})[/dim]  "
        f"[{colour}]{common.VERDICT_WORDS[t.verdict]}[/{colour}]{network}",
    ]
    if t.targets:
        rpo_colour = RPO_COLOURS[t.rpo.value]
        lines.append(
            f"    RPO [{rpo_colour}]{escape(common.rpo(t))}[/{rpo_colour}]  [dim]{escape(common.thresholds(t))}[/dim]"
            f"    RTO {escape(common.rto(t.rto_s))}"
        )
    for target in t.targets:
        lines += _target(target)
    for f in t.all_failures:
        lines.append(f"  [red]✗ {f.step.value}[/red] {escape(f.cause)}  [dim]{escape(f.address)}[/dim]")
    return lines


def _target(x: TargetDrill) -> list[str]:
    mark = "[green]✓[/green]" if x.passed else "[red]✗[/red]"
    title = common.TARGET_TITLES.get(x.kind, x.kind)
    lines = [
        f"  {mark} {escape(title)} [bold]{escape(x.name)}[/bold]  RTO {escape(common.rto(x.rto_s))}  "
        f"[dim]test failover {escape(common.test_failover(x))}; cleanup {escape(common.job(x.cleanup))}[/dim]"
    ]
    if x.leftover_cleaned:
        lines.append("        [dim]an earlier run's test failover was cleaned up first[/dim]")
    for vm in x.vms:
        vm_mark = "[green]✓[/green]" if vm.succeeded else "[red]✗[/red]"
        state = "failed over" if vm.succeeded else f"not failed over ({vm.state})"
        lines.append(
            f"      {vm_mark} {escape(vm.name)}  {escape(state)}  [dim]recovery point "
            f"{escape(common.point(vm.point))}[/dim]"
        )
    return lines


def render(console: Console, report: DrillReport) -> None:
    lines: list[str] = []
    for t in common.tenants(report):
        lines += _tenant(t)
    lines.append("")
    emit(console, lines)
    colour = COLOURS[report.verdict]
    console.print(f"[bold {colour}]{escape(report.headline())}[/bold {colour}]", highlight=False)


__all__ = ["render"]
