"""The drift report as Markdown that fits a pull-request comment (GitHub: 65,536 characters at most): the
headline, a summary table per site and tenant, health findings, then a collapsible ``<details>`` with every
drifted field (before: the spec / what apply applied; after: the live value) and the other findings. Past
:data:`LIMIT` it is cut, with a note saying how much was left out. Pure; every value is escaped."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.engine.drift import DriftReport
from reconciler.reports import drift_common as common
from reconciler.reports import markdown
from reconciler.reports.drift_common import TrendPoint
from reconciler.reports.markdown import cell

LIMIT = 65_000


def _trend(report: DriftReport, history: Sequence[TrendPoint] | None) -> list[str]:
    series = common.points(report, history)
    if not series:
        return ["_Trend: no past drift runs in the history store._", ""]
    counts = " → ".join(str(p.found) for p in series)
    return [f"**Trend** (objects not in sync, last {len(series)} runs, oldest first): {counts}", ""]


def _cpu_ready(report: DriftReport, history: Sequence[TrendPoint] | None) -> list[str]:
    """The watched hosts' CPU ready, highest first, with each host's figures over the past runs."""
    rows = common.cpu_ready_rows(report, history)
    if not rows:
        return []
    out = [
        "#### CPU ready",
        "",
        "| host | now | threshold | trend (oldest first) | source |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for row in rows:
        trend = " → ".join(common.percent(v) for v in row.series) if len(row.series) > 1 else ""
        out.append(
            f"| {cell(row.host)} | {common.percent(row.percent)} | {common.percent(row.threshold)} | {cell(trend)} | "
            f"{cell(row.source)} |"
        )
    more = len(report.readings) - len(rows)
    note = [f"_{more} more hosts not listed (the table shows the {len(rows)} highest)._"] if more > 0 else []
    return [*out, *note, ""]


def render(report: DriftReport, *, history: Sequence[TrendPoint] | None = None, limit: int = LIMIT) -> str:
    """The report as Markdown of at most ``limit`` characters."""
    budget = limit - 300  # room for the truncation note
    out = "\n".join(_head(report, history)) + "\n"
    left_out = 0
    for line in [*_health(report), *_cpu_ready(report, history)]:
        if len(out) + len(line) + 1 > budget:
            left_out += 1
            continue
        out += line + "\n"
    rows = _finding_rows(report)
    if rows:
        objects = len(common.findings(report))
        details, dropped = markdown.collapsed(
            rows,
            summary=f"{objects} object{'s' * (objects != 1)} not in sync: fields before (spec) and after (live)",
            columns=("class", "object", "field", "before (spec)", "after (live)"),
            room=budget - len(out),
            closing="\n</details>\n\n",
        )
        out += details
        left_out += dropped
    elif not report.has_findings:
        out += "Nothing drifted.\n"
    if left_out:
        out += (
            f"\n> **Truncated:** {left_out} more line{'s' * (left_out != 1)} left out to fit a comment; "
            "the whole report: `reconciler drift --format json` or `--format html`.\n"
        )
    if len(out) > limit:  # a head alone too long (thousands of scopes): cut hard, still under the limit
        tail = "\n\n> **Truncated** to fit a comment.\n"
        out = out[: limit - len(tail)] + tail
    return out


def _head(report: DriftReport, history: Sequence[TrendPoint] | None) -> list[str]:
    """Title, time, and the counts per scope, then the trend."""
    head: list[str] = [f"### reconciler drift — {cell(common.headline(report))}", ""]
    head.append(f"<sub>{cell(report.created_at)} · spec digest {cell(report.spec_digest[:12])}</sub>")
    head.append("")
    health_count = common.health_by_scope(report)
    head += [
        "| scope | in sync | drifted | missing | pending | unmanaged | health |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for scope in report.by_scope():
        c = scope.counts
        head.append(
            f"| {cell(common.scope_name(scope))} | {c['in-sync']} | {c['drifted']} | {c['missing']} | "
            f"{c['pending']} | {c['unmanaged']} | {health_count.get((scope.site, scope.tenant), 0)} |"
        )
    head.append("")
    return head + _trend(report, history)


def _health(report: DriftReport) -> list[str]:
    if not report.health:
        return []
    body = [
        "#### Health",
        "",
        "| severity | object | finding | suspected cause | fix |",
        "| --- | --- | --- | --- | --- |",
    ]
    for h in report.health:
        body.append(
            f"| {cell(h.severity)} | {cell(str(h.address))} | {cell(h.message)} | {cell(h.cause or '')} | "
            f"{cell(h.fix or '')} |"
        )
    return [*body, ""]


def _finding_rows(report: DriftReport) -> list[str]:
    """One table row per drifted field (or per object without fields)."""
    rows: list[str] = []
    for e in common.findings(report):
        kind = e.address.kind
        label = f"{common.title(kind)} {e.address.name}"
        if not e.fields:
            rows.append(f"| {e.drift_class.value} | {cell(label)} | — | {cell(e.error or e.reason)} | |")
        for f in e.fields:
            rows.append(
                f"| {e.drift_class.value} | {cell(label)} | {cell(f.path)} | "
                f"{cell(common.value(f.expected, kind=kind, path=f.path))} | "
                f"{cell(common.value(f.actual, kind=kind, path=f.path))} |"
            )
    return rows


__all__ = ["LIMIT", "cell", "render"]
