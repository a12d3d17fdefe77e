"""The drill report as ONE self-contained HTML page (inline CSS and SVG, no script, nothing loaded from anywhere),
for a customer or an auditor: the headline, a table per tenant (verdict, RPO, RTO, VMs failed over, the drill
network), a chart of each tenant's RPO against its policy's warning and critical thresholds, every failure with its
cause, and each VM with the recovery point it failed over from and its target's test failover and cleanup. Pure;
every value is escaped (``html_page.text``, as the drift page does)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from reconciler.engine.drill import DrillReport, TenantDrill, Verdict
from reconciler.engine.rpo import duration
from reconciler.reports import drill_common as common
from reconciler.reports import html_page

_e = html_page.text
_CSS = (
    html_page.CSS
    + """
.v-passed{color:#fff;background:#1a7f37;border-radius:4px;padding:1px 6px}
.v-failed{color:#fff;background:#cf222e;border-radius:4px;padding:1px 6px}
.v-error,.v-interrupted{color:#1f2328;background:#d4a72c;border-radius:4px;padding:1px 6px}
.r-ok{color:#1a7f37}.r-warning{color:#9a6700;font-weight:600}.r-critical{color:#cf222e;font-weight:600}
.r-unknown{color:#59636e}.yes{color:#1a7f37}.no{color:#cf222e;font-weight:600}
"""
)
_ZONES = (("#dafbe1", "ok"), ("#fff8c5", "warning"), ("#ffebe9", "critical"))


def _badge(verdict: Verdict) -> str:
    return f'<span class="v-{verdict.value}">{_e(common.VERDICT_WORDS[verdict])}</span>'


def _tenants(report: DrillReport) -> list[str]:
    out = [
        "<table><thead><tr><th>tenant</th><th>result</th><th>RPO at the drill</th><th>RPO policy</th><th>RTO</th>"
        "<th>VMs failed over</th><th>drill network</th></tr></thead><tbody>"
    ]
    for t in common.tenants(report):
        vms = t.vms
        out.append(
            f'<tr><td><b>{_e(t.tenant)}</b><br><span class="muted">site {_e(t.site)}</span></td>'
            f"<td>{_badge(t.verdict)}</td>"
            f'<td class="r-{t.rpo.value}">{_e(common.rpo(t))}</td><td class="muted">{_e(common.thresholds(t))}</td>'
            f'<td class="n">{_e(common.rto(t.rto_s))}</td>'
            f'<td class="n">{sum(1 for v in vms if v.succeeded)} of {len(vms)}</td>'
            f"<td><code>{_e(t.network or '–')}</code></td></tr>"
        )
    out.append("</tbody></table>")
    return out


def _scale(t: TenantDrill) -> tuple[float, float]:
    """The chart's span for a tenant, in seconds: a tenth of the replication interval to 1.25 times the critical
    threshold, on a logarithmic scale (seconds and a day on one bar)."""
    assert t.policy is not None
    return max(t.policy.interval_s / 10, 1.0), t.policy.critical_s * 1.25


def _x(seconds: float, low: float, high: float) -> float:
    """Where ``seconds`` falls on the log scale from ``low`` to ``high`` (0 to 1, clamped)."""
    return min(max(math.log(max(seconds, low) / low) / math.log(high / low), 0.0), 1.0)


def rpo_svg(tenants: Sequence[TenantDrill], *, width: int = 760) -> str:
    """One bar per tenant: its RPO over the ok, warning and critical zones of its policy, on a logarithmic scale
    from a tenth of the replication interval to 1.25 times the critical threshold (an RPO past it is drawn to the
    end, its figure still said)."""
    rows = [t for t in tenants if t.policy is not None and t.rpo_s is not None]
    left, right, row_h = 160, 150, 26
    height = 24 + row_h * len(rows)
    plot = width - left - right
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'role="img" aria-label="RPO per tenant against its policy">'
    ]
    for i, t in enumerate(rows):
        assert t.policy is not None and t.rpo_s is not None
        low, high = _scale(t)
        y = 8 + i * row_h
        edges = [_x(v, low, high) for v in (low, t.policy.warning_s, t.policy.critical_s, high)]
        for (colour, zone), x0, x1 in zip(_ZONES, edges, edges[1:], strict=False):
            parts.append(
                f'<rect x="{left + plot * x0:.1f}" y="{y}" width="{plot * max(x1 - x0, 0):.1f}" height="18" '
                f'fill="{colour}"><title>{zone}</title></rect>'
            )
        fill = {"ok": "#1a7f37", "warning": "#d4a72c", "critical": "#cf222e"}.get(t.rpo.value, "#8c959f")
        bar = plot * _x(t.rpo_s, low, high)
        parts.append(f'<rect x="{left}" y="{y + 5}" width="{max(bar, 1.5):.1f}" height="8" fill="{fill}"/>')
        parts.append(f'<text x="{left - 8}" y="{y + 13}" font-size="12" text-anchor="end">{_e(t.tenant)}</text>')
        parts.append(
            f'<text x="{left + plot + 8}" y="{y + 13}" font-size="12">{_e(duration(t.rpo_s))} ({t.rpo.value})</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _rpo_chart(report: DrillReport) -> list[str]:
    if not any(t.policy is not None and t.rpo_s is not None for t in report.tenants):
        return ['<p class="muted">No recovery point was read: no RPO to chart.</p>']
    return [
        "<p class=\"muted\">The oldest recovery point each tenant's VMs failed over from, on its policy's zones "
        "(a logarithmic scale): ok up to twice the replication interval, warning up to the retention, critical "
        "beyond.</p>",
        rpo_svg(common.tenants(report)),
    ]


def _failures(report: DrillReport) -> list[str]:
    found = common.failures(report)
    if not found:
        return ['<p class="muted">None: every VM failed over and every test failover was cleaned up.</p>']
    out = ["<table><thead><tr><th>tenant</th><th>step</th><th>object</th><th>cause</th></tr></thead><tbody>"]
    for t, f in found:
        out.append(
            f"<tr><td>{_e(t.tenant)}</td><td>{_e(f.step.value)}</td><td><code>{_e(f.address)}</code></td>"
            f"<td>{_e(f.cause)}</td></tr>"
        )
    out.append("</tbody></table>")
    return out


def _vms(report: DrillReport) -> list[str]:
    out = [
        "<table><thead><tr><th>tenant</th><th>target</th><th>VM</th><th>failed over</th><th>recovery point</th>"
        "<th>RTO</th><th>test failover</th><th>cleanup</th></tr></thead><tbody>"
    ]
    for t in common.tenants(report):
        for x in t.targets:
            title = f"{common.TARGET_TITLES.get(x.kind, x.kind)} {x.name}"
            for vm in x.vms:
                answer = (
                    '<span class="yes">yes</span>' if vm.succeeded else f'<span class="no">no</span> ({_e(vm.state)})'
                )
                out.append(
                    f"<tr><td>{_e(t.tenant)}</td><td>{_e(title)}</td><td><b>{_e(vm.name)}</b></td><td>{answer}</td>"
                    f'<td class="r-{vm.rpo.value}">{_e(common.point(vm.point))}</td>'
                    f'<td class="n">{_e(common.rto(x.rto_s))}</td><td>{_e(common.test_failover(x))}</td>'
                    f"<td>{_e(common.job(x.cleanup))}</td></tr>"
                )
    out.append("</tbody></table>")
    return out


def render(report: DrillReport) -> str:
    """The whole page."""
    tone = {Verdict.PASSED: " ok", Verdict.FAILED: " bad"}.get(report.verdict, "")
    chosen = f" · targets {_e(', '.join(report.selectors))}" if report.selectors else ""
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>reconciler drill {_e(report.created_at)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>reconciler drill</h1>",
        f'<div class="meta">{_e(report.created_at)} · run <code>{_e(report.run_id)}</code> · spec digest '
        f"<code>{_e(report.spec_digest[:12])}</code> · format {report.format_version}{chosen}</div>",
        f'<div class="headline{tone}">{_e(report.headline())}</div>',
        '<p class="muted">Each tenant\'s protected VMs were failed over for a test into its isolated drill network '
        "(production kept replicating; no production failover), checked, and cleaned up. RPO: the age of the "
        "recovery point failed over from; RTO: from the test failover request until every VM had failed over.</p>",
        "<h2>Tenants</h2>",
        *_tenants(report),
        "<h2>RPO against the policy</h2>",
        *_rpo_chart(report),
        "<h2>Failures</h2>",
        *_failures(report),
        "<h2>Every VM</h2>",
        *_vms(report),
        "</body></html>",
        "",
    ]
    return "\n".join(lines)


__all__ = ["render", "rpo_svg"]
