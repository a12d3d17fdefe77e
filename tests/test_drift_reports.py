"""Health findings beside drift (protection, CPU ready with the DBPM lesson) and the Markdown and HTML drift
reports, end to end on the embedded estate in ``tmp_path`` and on small reports; the HTML report is opened
in headless Chromium (tests/browser.py) and a screenshot is kept in ``tests/artifacts/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.addresses import Address
from reconciler.core.resources import Observed
from reconciler.engine import health
from reconciler.engine.drift import DriftClass, DriftEntry, DriftReport, FieldDrift
from reconciler.engine.health import HealthFinding, Watch
from reconciler.providers.embedded import seed
from reconciler.providers.embedded.provider import cpu_ready_percent
from reconciler.providers.embedded.store import Row
from reconciler.reports import drift_html, drift_json, drift_markdown
from reconciler.reports.drift_common import TrendPoint
from tests.browser import chromium, render
from tests.browser import parsed as _parsed
from tests.helpers import EMBEDDED_ENV, SPECS, applied_estate, drift_as_json, isolate
from tests.helpers import edit_row as _edit
from tests.helpers import out as _out
from tests.helpers import run as _run

SITE = "contoso-west"
POLICY = Address("asr.replication_policy", "acmecorp", "AcmeCorp-Policy")
PROTECTED = Address("asr.protected_item", "acmecorp", "VM01")
HOSTS = [f"HV0{i}.contoso.int" for i in (1, 2, 3)]
ENVIRONMENT = (
    seed.ENV_ESTATE_DB,
    *EMBEDDED_ENV,
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch, unset=ENVIRONMENT, audit_log="-")


def _estate(tmp_path: Path, *extra: str) -> Path:
    return applied_estate(tmp_path / "estate.db", SPECS, *extra)


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    """The shipped estate with the example specs applied (BIOS included: hosts on Maximum Performance)."""
    return _estate(tmp_path)


def _drift_json(estate: Path) -> tuple[int, dict[str, Any]]:
    return drift_as_json(SPECS, estate)


def _slower(row: Row) -> None:
    row.data["replicationIntervalSeconds"] = 300


# ------------------------------------------------------------------------------------------------- health


def test_cpu_ready_is_a_finding_until_the_bios_leaves_dbpm(tmp_path: Path) -> None:
    estate = _estate(tmp_path, "--exclude", "bmc.bios")  # power plan applied, BIOS still on DBPM
    code, document = _drift_json(estate)
    assert code == 2
    assert document["formatVersion"] == 2
    ready = [h for h in document["health"] if h["check"] == "cpu-ready"]
    assert sorted(h["name"] for h in ready) == HOSTS
    first = ready[0]
    assert first["value"] == 22.0 and first["threshold"] == 5.0
    assert first["severity"] == "critical"
    assert "22%" in first["message"] and "5%" in first["message"] and "max-performance" in first["message"]
    assert "demand-based power management (DBPM)" in first["cause"]
    assert "PerfPerWattOptimizedDapc" in first["cause"] and "HighPerformance" in first["cause"]
    assert "MaximumPerformance" in first["fix"] and "OsControlled" in first["fix"]
    text = _out(_run("drift", SPECS, "--estate", estate))
    assert "CPU ready 22% on HV01.contoso.int exceeds the 5% threshold" in text
    assert "suspected cause: BIOS PerfPerWattOptimizedDapc: demand-based power management (DBPM)" in text
    assert "Health: 3 findings." in text

    assert _run("apply", SPECS, "--yes", "--allow-disruption", "--estate", estate).exit_code == 0
    code, document = _drift_json(estate)
    assert (code, document["health"]) == (0, [])


def test_health_alone_exits_2_and_a_critical_replication_is_a_finding(estate: Path) -> None:
    code, document = _drift_json(estate)
    assert (code, document["health"]) == (0, [])

    def critical(row: Row) -> None:
        assert row.status["protectionState"] == "Protected"  # as protection left it
        assert row.status["replicationHealth"] == "Normal"
        row.status["replicationHealth"] = "Critical"

    _edit(estate, PROTECTED, critical)
    code, document = _drift_json(estate)
    assert code == 2
    assert document["counts"]["in-sync"] == document["counts"]["total"]  # no drift: health alone
    (found,) = document["health"]
    assert found["address"] == str(PROTECTED) and found["check"] == "protection"
    assert found["severity"] == "critical" and "replication health Critical" in found["message"]
    assert found["tenant"] == "acmecorp"


def test_cpu_ready_causes() -> None:
    w = Watch(SITE, "HV01.contoso.int", "max-performance", 5.0)
    host = Address("host.state", SITE, w.host)

    def seen(kind: str, data: dict[str, Any], **status: Any) -> Observed:
        return Observed(Address(kind, SITE, w.host), data, status=status)

    hot = seen("host.state", {}, cpuReadyPercent=5.4)
    os_bios = seen("bmc.bios", {"attributes": {"SysProfile": "PerfPerWattOptimizedOs"}})
    balanced = seen("host.power_policy", {"powerPlan": "Balanced"})
    found = health.cpu_ready(w, hot, os_bios, balanced)
    assert found is not None and found.address == host and found.severity == "warning"
    assert "OS control" in found.cause and "Balanced" in found.cause and found.fix == health.FIX_POWER
    fast = seen("bmc.bios", {"attributes": {"SysProfile": "PerfOptimized"}})
    found = health.cpu_ready(w, seen("host.state", {}, cpuReadyPercent=9), fast, balanced)
    assert found is not None and found.fix == health.FIX_OTHER  # power management is set for performance
    assert health.cpu_ready(w, seen("host.state", {}, cpuReadyPercent=5.0), None, None) is None  # at, not over
    assert health.cpu_ready(w, seen("host.state", {}), None, None) is None  # no metric


def test_the_embedded_cpu_ready_model() -> None:
    def bios(profile: str) -> Row:
        return Row(Address("bmc.bios", SITE, "h"), {"vendor": "dell", "attributes": {"SysProfile": profile}})

    def plan(name: str) -> Row:
        return Row(Address("host.power_policy", SITE, "h"), {"platform": "hyperv", "powerPlan": name})

    assert cpu_ready_percent(bios("PerfPerWattOptimizedDapc"), plan("HighPerformance")) == 22.0
    assert cpu_ready_percent(bios("PerfOptimized"), plan("Balanced")) == 2.0
    assert cpu_ready_percent(bios("PerfPerWattOptimizedOs"), plan("Balanced")) == 5.4
    assert cpu_ready_percent(bios("PerfPerWattOptimizedOs"), plan("HighPerformance")) == 3.0


# ---------------------------------------------------------------------------------------------- renderers


def _report(*, actual: Any = 300, entries: int = 1) -> DriftReport:
    found = tuple(
        DriftEntry(
            address=Address("asr.replication_policy", "acmecorp", f"Policy-{i}" if i else "AcmeCorp-Policy"),
            drift_class=DriftClass.DRIFTED,
            site=SITE,
            tenant="acmecorp",
            reason="changed outside reconciler since the last apply",
            fields=(FieldDrift("replicationIntervalSeconds", 900, actual),),
        )
        for i in range(entries)
    )
    in_sync = DriftEntry(Address("vmm.logical_network", SITE, "Provider Address"), DriftClass.IN_SYNC, SITE, None)
    finding = HealthFinding(
        address=Address("host.state", SITE, "HV01.contoso.int"),
        site=SITE,
        tenant=None,
        check="cpu-ready",
        severity="critical",
        message="CPU ready 22% on HV01.contoso.int exceeds the 5% threshold of power profile max-performance",
        cause="BIOS PerfPerWattOptimizedDapc: demand-based power management (DBPM); power policy Balanced",
        fix=health.FIX_POWER,
        value=22.0,
        threshold=5.0,
    )
    return DriftReport(
        entries=(*found, in_sync), created_at="2026-11-26T16:00:00+00:00", spec_digest="abc", health=(finding,)
    )


def test_markdown_fits_a_pull_request_comment() -> None:
    page = drift_markdown.render(_report())
    assert "| site contoso-west | 1 | 0 | 0 | 0 | 0 | 1 |" in page
    assert "| tenant acmecorp (site contoso-west) | 0 | 1 | 0 | 0 | 0 | 0 |" in page
    assert "<details>" in page and "</details>" in page
    assert "| drifted | replication policy AcmeCorp-Policy | replicationIntervalSeconds | 900 | 300 |" in page
    assert "demand-based power management (DBPM)" in page
    assert "no past drift runs" in page
    assert "3 → 0 → 1" in drift_markdown.render(
        _report(),
        history=[TrendPoint("a", "2026-11-25T10:00:00", {"drifted": 2, "missing": 1}), TrendPoint("b", "x", {})],
    )

    big = drift_markdown.render(_report(actual="x" * 250, entries=2000))
    assert len(big) < drift_markdown.LIMIT
    assert "**Truncated:**" in big and big.rstrip().endswith("`--format html`.")
    assert big.count("<details>") == big.count("</details>") == 1
    assert drift_markdown.cell("a|b <script>`x`") == "a\\|b &lt;script&gt;\\`x\\`"


def test_html_is_self_contained_well_formed_and_escaped() -> None:
    evil = "<script>alert('x')</script>"
    page = drift_html.render(_report(actual=evil))
    checker = _parsed(page)
    assert "script" not in checker.tags  # the value is text, never an element
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    text = " ".join(checker.text)
    assert "replicationIntervalSeconds" in text and evil in text and "900" in text
    assert "demand-based power management (DBPM)" in text
    assert "No trend" in text and "<svg" not in page
    assert "<link" not in page and "src=" not in page and "@import" not in page  # nothing loaded from anywhere

    history = [TrendPoint(f"run{i}", f"2026-11-2{i}T10:00:00+00:00", {"drifted": i, "pending": 1}) for i in range(5)]
    page = drift_html.render(_report(), history=history)
    checker = _parsed(page)
    assert "svg" in checker.tags and checker.tags.count("rect") >= 10


def test_drift_formats_from_the_command_line(estate: Path, tmp_path: Path) -> None:
    _edit(estate, POLICY, _slower)
    assert _run("drift", SPECS, "--estate", estate).exit_code == 2  # a run in history: the trend has a point
    md = _run("drift", SPECS, "--estate", estate, "--format", "markdown")
    assert md.exit_code == 2
    assert "| drifted | replication policy AcmeCorp-Policy | replicationIntervalSeconds | 900 | 300 |" in md.stdout
    assert len(md.stdout) < drift_markdown.LIMIT
    target = tmp_path / "drift.html"
    html_run = _run("drift", SPECS, "--estate", estate, "--format", "html", "-o", target)
    assert html_run.exit_code == 2
    page = target.read_text(encoding="utf-8")
    assert "replicationIntervalSeconds" in page and "<svg" in page
    _parsed(page)
    document = json.loads(_run("drift", SPECS, "--estate", estate, "--format", "json").stdout)
    report, _paths = drift_json.from_dict(document)  # the stored form reads back, health included
    assert report.entries and report.health == ()


def test_the_html_report_in_headless_chromium(tmp_path: Path) -> None:
    chromium()  # skipped (or failed on CI) before any work when there is no browser
    estate = _estate(tmp_path, "--exclude", "bmc.bios")  # CPU ready findings too
    assert _run("drift", SPECS, "--estate", estate).exit_code == 2  # past runs: the trend has bars
    _edit(estate, POLICY, _slower)
    assert _run("drift", SPECS, "--estate", estate).exit_code == 2
    report = tmp_path / "drift.html"
    assert _run("drift", SPECS, "--estate", estate, "--format", "html", "-o", report).exit_code == 2
    dom = render(report, screenshot="drift-report.png", profile=tmp_path / "chromium-profile")
    for expected in (
        "replicationIntervalSeconds",
        "attributes.SysProfile",
        "PerfPerWattOptimizedDapc",
        "PerfOptimized",
    ):
        assert expected in dom, expected
    assert "demand-based power management (DBPM)" in dom
