"""The drift report as ONE self-contained HTML page: inline CSS, an inline SVG chart, no script, no external
resource (it opens from a mail attachment or a CI artifact as it is). A summary per site and tenant, health
findings, the watched hosts' CPU ready with its trend, a table of every drifted field with its value before (the
spec / what apply applied) and after (live), the other findings, and the trend of drift counts over the last runs
(``history``: the caller passes the counts of past drift runs; without them the page says so). Pure; every value
is escaped."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.engine.drift import DriftReport
from reconciler.reports import drift_common as common
from reconciler.reports import html_page
from reconciler.reports.drift_common import TrendPoint

_CSS = (
    html_page.CSS
    + """
.c-drifted{color:#9a6700}.c-missing{color:#cf222e}.c-pending{color:#0969da}.c-unmanaged{color:#8250df}
"""
)

_COLOURS = {"drifted": "#d4a72c", "missing": "#cf222e", "pending": "#0969da", "unmanaged": "#8250df"}


_e = html_page.text  # any text on the page: unprintable characters written as escapes, then HTML-escaped


def _summary(report: DriftReport) -> list[str]:
    health = common.health_by_scope(report)
    out = [
        "<table><thead><tr><th>scope</th><th>in sync</th><th>drifted</th><th>missing</th><th>pending</th>"
        "<th>unmanaged</th><th>health</th></tr></thead><tbody>"
    ]
    for scope in report.by_scope():
        cells = [scope.counts[k] for k in ("in-sync", "drifted", "missing", "pending", "unmanaged")]
        cells.append(health.get((scope.site, scope.tenant), 0))
        tds = "".join(f'<td class="n{" zero" if not n else ""}">{n}</td>' for n in cells)
        out.append(f"<tr><td>{_e(common.scope_name(scope))}</td>{tds}</tr>")
    out.append("</tbody></table>")
    return out


def _health(report: DriftReport) -> list[str]:
    if not report.health:
        return [
            '<p class="muted">No health findings: protected items are healthy and CPU ready is within the power '
            "profiles' thresholds.</p>"
        ]
    out = [
        "<table><thead><tr><th>severity</th><th>object</th><th>finding</th><th>suspected cause</th><th>fix</th>"
        "</tr></thead><tbody>"
    ]
    for h in report.health:
        out.append(
            f'<tr><td><span class="sev-{_e(h.severity)}">{_e(h.severity)}</span></td>'
            f'<td><b>{_e(h.address.name)}</b><br><code class="muted">{_e(h.address)}</code></td>'
            f"<td>{_e(h.message)}</td><td>{_e(h.cause)}</td><td>{_e(h.fix)}</td></tr>"
        )
    out.append("</tbody></table>")
    return out


def _cpu_ready(report: DriftReport, history: Sequence[TrendPoint] | None) -> list[str]:
    rows = common.cpu_ready_rows(report, history)
    if not rows:
        return []
    out = [
        "<h3>CPU ready</h3>",
        "<table><thead><tr><th>host</th><th>now</th><th>threshold</th><th>trend (oldest first)</th><th>source</th>"
        "</tr></thead><tbody>",
    ]
    for row in rows:
        over = ' class="sev-warning"' if row.percent > row.threshold else ""
        trend = " → ".join(common.percent(v) for v in row.series) if len(row.series) > 1 else ""
        out.append(
            f"<tr><td><b>{_e(row.host)}</b></td><td><span{over}>{_e(common.percent(row.percent))}</span></td>"
            f"<td>{_e(common.percent(row.threshold))}</td><td>{_e(trend)}</td>"
            f'<td class="muted">{_e(row.source)}</td></tr>'
        )
    out.append("</tbody></table>")
    more = len(report.readings) - len(rows)
    if more > 0:
        out.append(f'<p class="muted">{more} more hosts not listed (the table shows the {len(rows)} highest).</p>')
    return out


def _fields(report: DriftReport) -> list[str]:
    found = common.findings(report)
    if not found:
        return ['<p class="muted">Nothing drifted: every object matches the specs.</p>']
    out = [
        "<table><thead><tr><th>class</th><th>object</th><th>field</th><th>before (spec)</th><th>after (live)</th>"
        "</tr></thead><tbody>"
    ]
    for e in found:
        kind = e.address.kind
        cls = e.drift_class.value
        obj = f'{_e(common.title(kind))} <b>{_e(e.address.name)}</b><br><code class="muted">{_e(e.address)}</code>'
        if e.fields:
            for f in e.fields:
                out.append(
                    f'<tr><td class="c-{cls}">{cls}</td><td>{obj}</td><td><code>{_e(f.path)}</code></td>'
                    f'<td class="before"><code>{_e(common.value(f.expected, kind=kind, path=f.path))}</code></td>'
                    f'<td class="after"><code>{_e(common.value(f.actual, kind=kind, path=f.path))}</code></td></tr>'
                )
        else:
            out.append(
                f'<tr><td class="c-{cls}">{cls}</td><td>{obj}</td><td class="muted">—</td>'
                f'<td colspan="2">{_e(e.error or e.reason)}</td></tr>'
            )
    out.append("</tbody></table>")
    return out


def trend_svg(series: Sequence[TrendPoint], *, width: int = 760, height: int = 220) -> str:
    """Stacked bars of objects per finding class, one bar per run, oldest left."""
    left, right, top, bottom = 40, 10, 12, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([p.found for p in series] + [1])
    slot = plot_w / max(len(series), 1)
    bar = max(min(slot * 0.7, 48.0), 2.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'role="img" aria-label="drift counts per run">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#8c959f"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#8c959f"/>',
        f'<text x="{left - 6}" y="{top + 4}" font-size="11" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" font-size="11" text-anchor="end">0</text>',
    ]
    for i, p in enumerate(series):
        x = left + slot * i + (slot - bar) / 2
        y = float(top + plot_h)
        for cls in common.TREND_CLASSES:
            n = int(p.counts.get(cls, 0) or 0)
            if not n:
                continue
            h = plot_h * n / peak
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{_COLOURS[cls]}">'
                f"<title>{_e(p.run_id)}: {n} {cls}</title></rect>"
            )
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" font-size="11" text-anchor="middle">{p.found}</text>'
        )
        label = "now" if p.run_id == "this report" else p.at[5:16].replace("T", " ")
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle">'
            f"{_e(label)}</text>"
        )
    for j, cls in enumerate(common.TREND_CLASSES):
        lx = left + j * 110
        parts.append(f'<rect x="{lx}" y="{height - 16}" width="10" height="10" fill="{_COLOURS[cls]}"/>')
        parts.append(f'<text x="{lx + 14}" y="{height - 7}" font-size="11">{cls}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _trend(report: DriftReport, history: Sequence[TrendPoint] | None) -> list[str]:
    series = common.points(report, history)
    if not series:
        return ['<p class="muted">No trend: the history store holds no past drift run.</p>']
    return [
        f'<p class="muted">Objects not in sync over the last {len(series)} runs (oldest left; the last bar is this '
        "report).</p>",
        trend_svg(series),
    ]


def render(report: DriftReport, *, history: Sequence[TrendPoint] | None = None) -> str:
    """The whole page."""
    ok = "" if report.has_findings else " ok"
    targets = ""
    if report.targets or report.excludes:
        chosen = ", ".join(report.targets) or "all"
        targets = f" · targets {_e(chosen)} · excludes {_e(', '.join(report.excludes) or 'none')}"
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>reconciler drift {_e(report.created_at)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>reconciler drift</h1>",
        f'<div class="meta">{_e(report.created_at)} · spec digest <code>{_e(report.spec_digest[:12])}</code> · '
        f"format {report.format_version}{targets}</div>",
        f'<div class="headline{ok}">{_e(common.headline(report))}</div>',
        "<h2>Summary per site and tenant</h2>",
        *_summary(report),
        "<h2>Health</h2>",
        *_health(report),
        *_cpu_ready(report, history),
        "<h2>Drifted fields and other findings</h2>",
        *_fields(report),
        "<h2>Trend</h2>",
        *_trend(report, history),
        "</body></html>",
        "",
    ]
    return "\n".join(lines)


__all__ = ["render", "trend_svg"]
