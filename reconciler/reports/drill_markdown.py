"""The drill report as Markdown that fits a pull-request or issue comment (GitHub: 65,536 characters): the
headline, a table per tenant (verdict, RPO against its policy, RTO, VMs failed over), every failure with its cause,
then a collapsible ``<details>`` with each VM: its target, whether it failed over, the recovery point it failed
over from, and the test failover and cleanup. Past :data:`LIMIT` rows are left out, with a note. Pure; every value
is escaped as drift's Markdown escapes it (``drift_markdown.cell``)."""

from __future__ import annotations

from reconciler.engine.drill import DrillReport
from reconciler.reports import drill_common as common
from reconciler.reports.drift_markdown import cell

LIMIT = 65_000


def _head(report: DrillReport) -> list[str]:
    out = [f"### reconciler drill — {cell(report.headline())}", ""]
    out += [
        f"<sub>{cell(report.created_at)} · run {cell(report.run_id)} · spec digest {cell(report.spec_digest[:12])}"
        "</sub>",
        "",
    ]
    out += [
        "| tenant | site | result | RPO at the drill | RPO policy | RTO | VMs failed over | network |",
        "| --- | --- | --- | --- | --- | ---: | ---: | --- |",
    ]
    for t in common.tenants(report):
        vms = t.vms
        out.append(
            f"| {cell(t.tenant)} | {cell(t.site)} | **{cell(common.VERDICT_WORDS[t.verdict])}** | "
            f"{cell(common.rpo(t))} | {cell(common.thresholds(t))} | {cell(common.rto(t.rto_s))} | "
            f"{sum(1 for v in vms if v.succeeded)} of {len(vms)} | {cell(t.network or '–')} |"
        )
    return [*out, ""]


def _failures(report: DrillReport) -> list[str]:
    found = common.failures(report)
    if not found:
        return ["Every VM failed over into its drill network and every test failover was cleaned up.", ""]
    out = ["#### Failures", "", "| tenant | step | object | cause |", "| --- | --- | --- | --- |"]
    out += [f"| {cell(t.tenant)} | {cell(f.step.value)} | {cell(f.address)} | {cell(f.cause)} |" for t, f in found]
    return [*out, ""]


def _vm_rows(report: DrillReport) -> list[str]:
    rows = []
    for t in common.tenants(report):
        for x in t.targets:
            title = f"{common.TARGET_TITLES.get(x.kind, x.kind)} {x.name}"
            for vm in x.vms:
                rows.append(
                    f"| {cell(t.tenant)} | {cell(title)} | {cell(vm.name)} | {'yes' if vm.succeeded else 'no'} | "
                    f"{cell(common.point(vm.point))} | {cell(common.test_failover(x))} | "
                    f"{cell(common.job(x.cleanup))} |"
                )
    return rows


def render(report: DrillReport, *, limit: int = LIMIT) -> str:
    """The report as Markdown of at most ``limit`` characters."""
    budget = limit - 300  # room for the truncation note
    out, left_out = "", 0
    for line in [*_head(report), *_failures(report)]:
        if len(out) + len(line) + 1 > budget:
            left_out += 1
            continue
        out += line + "\n"
    rows = _vm_rows(report)
    if rows:
        opening = (
            "<details>\n<summary>Every VM: did it fail over, and from which recovery point</summary>\n\n"
            "| tenant | target | VM | failed over | recovery point | test failover | cleanup |\n"
            "| --- | --- | --- | --- | --- | --- | --- |\n"
        )
        closing = "\n</details>\n"
        if len(out) + len(opening) + len(closing) <= budget:
            out += opening
            for i, row in enumerate(rows):
                if len(out) + len(row) + 1 + len(closing) > budget:
                    left_out += len(rows) - i
                    break
                out += row + "\n"
            out += closing
        else:
            left_out += len(rows)
    if left_out:
        out += (
            f"\n> **Truncated:** {left_out} more line{'s' * (left_out != 1)} left out to fit a comment; the whole "
            "report: `reconciler show RUN_ID --format json` or `--format html`.\n"
        )
    return out[:limit]


__all__ = ["LIMIT", "render"]
