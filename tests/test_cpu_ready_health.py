"""CPU ready as evidence (engine/health.py): the suspected cause a finding names from what the backend reported
beside the metric (the BIOS profile, the power policy, the vCPU:pCPU ratio, oversized VMs), the figures it keeps as
evidence, and every watched host's reading kept in the drift report, so that the history of drift runs holds each
host's trend (the Markdown and HTML reports show it). End to end on the embedded estate, whose figure comes from
its table; tests/test_vsphere_bmc_rollout.py reads vCenter's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.core.addresses import Address
from reconciler.core.resources import Observed
from reconciler.engine import drift, health
from reconciler.engine.health import Reading, Watch
from reconciler.providers.embedded.provider import READY_SOURCE
from reconciler.reports import drift_html, drift_json, drift_markdown
from reconciler.reports.drift_common import TrendPoint
from tests.helpers import EMBEDDED_ENV, SPECS, drift_as_json, init_estate, isolate, out, run

SITE = "contoso-west"
W = Watch(SITE, "esx01.lab.example", "esx-max-performance", 5.0)
HOST = Address("host.state", SITE, W.host)
DBPM = {"attributes": {"SysProfile": "PerfPerWattOptimizedDapc"}}
FAST = {"attributes": {"SysProfile": "PerfOptimized"}}


def seen(kind: str, data: dict[str, Any], **status: Any) -> Observed:
    return Observed(Address(kind, SITE, W.host), data, status=status)


def host(percent: float, **status: Any) -> Observed:
    return seen("host.state", {}, cpuReadyPercent=percent, **status)


def vm(name: str, vcpus: int, percent: float) -> dict[str, Any]:
    return {"name": name, "vcpus": vcpus, "cpuReadyPercent": percent, "cpuReadyPerVcpuPercent": percent / vcpus}


STATIC = seen("host.power_policy", {"platform": "vsphere", "policy": "static"})
DYNAMIC = seen("host.power_policy", {"platform": "vsphere", "policy": "dynamic"})


def test_power_management_is_the_suspect_while_the_bios_saves_power() -> None:
    found = health.cpu_ready(W, host(22.0, vcpus=20, pcpus=16), seen("bmc.bios", DBPM), DYNAMIC)
    assert found is not None and found.fix == health.FIX_POWER
    assert found.cause == "BIOS PerfPerWattOptimizedDapc: demand-based power management (DBPM); power policy dynamic"
    # A high ratio as well is named beside it: fixing the BIOS may not be all.
    found = health.cpu_ready(W, host(22.0, vcpus=80, pcpus=16), seen("bmc.bios", DBPM), DYNAMIC)
    assert found is not None and found.fix == health.FIX_POWER
    assert found.cause.endswith("; also vCPU:pCPU 5.0:1 (80 vCPUs of running VMs on 16 cores), above 3:1")


def test_too_many_vcpus_per_core_is_the_suspect_once_power_is_set_for_performance() -> None:
    status = {"vcpus": 56, "pcpus": 16, "cpuReadySource": "vCenter QueryPerf", "vms": [vm("db01", 8, 12.0)]}
    found = health.cpu_ready(W, host(9.0, **status), seen("bmc.bios", FAST), STATIC)
    assert found is not None and found.fix == health.FIX_RATIO and found.severity == "warning"
    assert found.cause.startswith(
        "vCPU:pCPU 3.5:1 (56 vCPUs of running VMs on 16 cores), above 3:1; BIOS PerfOptimized"
    )
    assert found.message.endswith("of power profile esx-max-performance (vCenter QueryPerf)")
    assert found.evidence == {**status, "vcpuPerCore": 3.5}
    assert found.to_dict()["evidence"]["vcpuPerCore"] == 3.5


def test_an_oversized_vm_that_waits_is_named_and_an_idle_one_is_not() -> None:
    vms = [vm("sql01", 12, 18.0), vm("idle01", 16, 0.0), vm("web01", 2, 1.0)]
    found = health.cpu_ready(W, host(7.0, vcpus=30, pcpus=16, vms=vms), seen("bmc.bios", FAST), STATIC)
    assert found is not None and found.fix == health.FIX_OTHER
    assert found.cause.startswith("oversized VMs for 16 cores: sql01 18% (12 vCPUs, 1.5% per vCPU); BIOS PerfOptimized")
    assert "idle01" not in found.cause
    # Nothing oversized: the VMs that wait most are listed as what to look at.
    found = health.cpu_ready(W, host(7.0, vcpus=30, pcpus=16, vms=vms[2:]), seen("bmc.bios", FAST), STATIC)
    assert found is not None and found.cause.endswith(
        "vCPU:pCPU 1.9:1 (30 vCPUs of running VMs on 16 cores); most ready: web01 1% (2 vCPUs, 0.5% per vCPU)"
    )


def test_every_watched_host_is_a_reading_and_the_report_keeps_them() -> None:
    other = Watch(SITE, "esx02.lab.example", "esx-max-performance", 5.0)
    hosts = {
        HOST: host(2.0, cpuReadySource="vCenter QueryPerf"),
        Address("host.state", SITE, other.host): seen("host.state", {}),  # no metric: no reading
    }
    readings = health.readings([W, other], hosts)
    assert readings == (Reading(HOST, "esx-max-performance", 2.0, 5.0, "vCenter QueryPerf"),)
    report = drift.make_report([], {}, {}, created_at="2026-12-05T02:00:00+00:00", readings=readings)
    document = drift_json.to_dict(report)
    assert document["cpuReady"] == [
        {
            "address": str(HOST),
            "name": W.host,
            "site": SITE,
            "profile": "esx-max-performance",
            "percent": 2.0,
            "threshold": 5.0,
            "source": "vCenter QueryPerf",
        }
    ]
    back, _ = drift_json.from_dict(document)
    assert back.readings == readings


def test_the_reports_show_each_hosts_trend() -> None:
    reading = Reading(HOST, "esx-max-performance", 2.0, 5.0, "vCenter QueryPerf")
    report = drift.make_report([], {}, {}, created_at="2026-12-06T02:00:00+00:00", readings=(reading,))
    history = [
        TrendPoint("r1", "2026-12-04T02:00:00+00:00", {}, {str(HOST): 22.0}),
        TrendPoint("r2", "2026-12-05T02:00:00+00:00", {}),  # that run's report is no longer kept
    ]
    markdown = drift_markdown.render(report, history=history)
    assert "| esx01.lab.example | 2% | 5% | 22% → – → 2% | vCenter QueryPerf |" in markdown
    page = drift_html.render(report, history=history)
    assert "<td>22% → – → 2%</td>" in page and "<h3>CPU ready</h3>" in page


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(tmp_path, monkeypatch, unset=EMBEDDED_ENV, estate="estate.db", audit_log="-")
    return init_estate(tmp_path / "estate.db")


def test_drift_history_keeps_the_trend_from_22_to_2_percent(estate: Path) -> None:
    code, before = drift_as_json(SPECS, estate)
    assert code == 2
    assert {r["name"]: r["percent"] for r in before["cpuReady"]} == {f"HV0{i}.contoso.int": 22.0 for i in (1, 2, 3)}
    assert {r["source"] for r in before["cpuReady"]} == {READY_SOURCE}
    applied = run("apply", SPECS, "--yes", "--allow-disruption", "--estate", estate)
    assert applied.exit_code == 0, out(applied)
    result = run("drift", SPECS, "--format", "markdown", "--estate", estate)
    assert result.exit_code == 0, out(result)
    assert "| HV01.contoso.int | 2% | 5% | 22% → 2% |" in result.stdout
