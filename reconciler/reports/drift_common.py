"""What the Markdown and HTML drift reports share: the trend points the caller passes (drift counts and the
watched hosts' CPU ready of past runs), the order findings are listed in, and how a value is shown. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.core import kinds
from reconciler.engine.drift import DriftClass, DriftEntry, DriftReport, ScopeCounts
from reconciler.reports import values

# Findings first, in this order; the classes a trend stacks.
ORDER = (DriftClass.DRIFTED, DriftClass.MISSING, DriftClass.PENDING, DriftClass.UNMANAGED)
TREND_CLASSES = tuple(c.value for c in ORDER)
CPU_READY_ROWS = 50  # hosts a CPU ready table lists, highest first: a page stays readable for 1,000 hosts


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One past drift run: its id, when it started (ISO 8601) and its objects per class (``history`` counts)."""

    run_id: str
    at: str
    counts: dict[str, int]
    cpu_ready: Mapping[str, float] = field(default_factory=dict)  # host.state address -> percent (that run)

    @property
    def found(self) -> int:
        return sum(int(self.counts.get(c, 0) or 0) for c in TREND_CLASSES)


def current(report: DriftReport) -> TrendPoint:
    """The report itself as the trend's last point."""
    return TrendPoint(
        "this report", report.created_at, report.counts(), {str(r.address): r.percent for r in report.readings}
    )


def points(report: DriftReport, history: Sequence[TrendPoint] | None) -> list[TrendPoint]:
    """The past runs (oldest first) then this report; empty when no history was given."""
    return [*history, current(report)] if history else []


@dataclass(frozen=True, slots=True)
class CpuReadyRow:
    """One watched host's CPU ready: now, its threshold, and its figure in each trend point (None: not read)."""

    host: str
    percent: float
    threshold: float
    source: str
    series: tuple[float | None, ...]


def cpu_ready_rows(report: DriftReport, history: Sequence[TrendPoint] | None) -> list[CpuReadyRow]:
    """The report's CPU ready readings, highest first, at most :data:`CPU_READY_ROWS`, each with its trend."""
    series = points(report, history)
    rows = [
        CpuReadyRow(
            host=r.address.name,
            percent=r.percent,
            threshold=r.threshold,
            source=r.source,
            series=tuple(p.cpu_ready.get(str(r.address)) for p in series),
        )
        for r in report.readings
    ]
    rows.sort(key=lambda row: (-row.percent, row.host))
    return rows[:CPU_READY_ROWS]


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:g}%"


def title(kind: str) -> str:
    return kinds.info(kind).title if kind in kinds.KINDS else kind


def value(v: Any, *, kind: str, path: str) -> str:
    return values.show(v, kind=kind, path=path, ascii_only=False)


def scope_name(scope: ScopeCounts) -> str:
    return f"tenant {scope.tenant} (site {scope.site})" if scope.tenant else f"site {scope.site}"


def findings(report: DriftReport) -> list[DriftEntry]:
    """The entries not in sync, by class (drifted first), in report order within a class."""
    rank = {c: i for i, c in enumerate(ORDER)}
    return sorted(report.findings, key=lambda e: rank.get(e.drift_class, len(rank)))


def health_by_scope(report: DriftReport) -> dict[tuple[str, str | None], int]:
    out: dict[tuple[str, str | None], int] = {}
    for h in report.health:
        out[(h.site, h.tenant)] = out.get((h.site, h.tenant), 0) + 1
    return out


def headline(report: DriftReport) -> str:
    counts = report.counts()
    total = len(report.entries)
    if not report.has_findings:
        return f"No drift. The estate matches the specs ({total} object{'s' * (total != 1)})."
    parts = [f"{counts[c.value]} {c.value}" for c in ORDER]
    health = f" Health: {len(report.health)} finding{'s' * (len(report.health) != 1)}." if report.health else ""
    return f"Drift: {', '.join(parts)}; {counts[DriftClass.IN_SYNC.value]} in sync ({total} objects).{health}"
