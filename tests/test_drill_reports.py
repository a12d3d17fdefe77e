"""The drill report's pure parts and renderers: the RPO thresholds (engine/rpo.py), the verdicts (engine/drill.py),
the JSON document read back as it was written, the Markdown that fits a comment, the HTML page self-contained and
escaped, and opened in headless Chromium like the drift report (tests/browser.py) with a screenshot kept in
``tests/artifacts/drill-report.png``."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from reconciler.core.addresses import Address
from reconciler.core.resources import Observed, Resource
from reconciler.engine import rpo
from reconciler.engine.drill import (
    DrillReport,
    Failure,
    JobSeen,
    PointSeen,
    Step,
    TargetDrill,
    TenantDrill,
    Verdict,
    VmDrill,
    verdict,
)
from reconciler.engine.rpo import RpoPolicy, RpoStatus
from reconciler.providers.embedded import seed
from reconciler.providers.embedded.store import Row
from reconciler.reports import drill_html, drill_json, drill_markdown
from tests.browser import chromium, parsed, render
from tests.helpers import EMBEDDED_ENV, SPECS, applied_estate, edit_row, isolate, run

EVIL = "<script>alert('x')</script>|`*"
NOW = datetime.datetime(2026, 12, 9, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch, unset=(seed.ENV_ESTATE_DB, *EMBEDDED_ENV), audit_log="-")


# ------------------------------------------------------------------------------------------------ RPO, verdicts


def test_rpo_thresholds_follow_the_policy() -> None:
    hourly = RpoPolicy("AcmeCorp-Policy", 900, 1)
    assert (hourly.warning_s, hourly.critical_s) == (1800, 3600)
    assert [hourly.status(s) for s in (None, 900, 1800, 1801, 3600, 3601)] == [
        RpoStatus.UNKNOWN,
        RpoStatus.OK,
        RpoStatus.OK,
        RpoStatus.WARNING,
        RpoStatus.WARNING,
        RpoStatus.CRITICAL,
    ]
    latest_only = RpoPolicy("P", 30, 0)  # keeps only the latest point: critical past an hour
    assert (latest_only.warning_s, latest_only.critical_s) == (60, 3600)
    assert rpo.duration(59) == "59s" and rpo.duration(600) == "10m 00s" and rpo.duration(7260) == "2h 01m"
    assert rpo.duration(90000) == "1d 1h" and rpo.duration(None) == "unknown"


def test_rpo_age_from_a_kept_age_or_a_time() -> None:
    assert rpo.age_seconds({"recoveryPointAgeSeconds": 120}, NOW) == 120
    assert rpo.age_seconds({"lastRecoveryPoint": "2026-12-09T11:00:00Z"}, NOW) == 3600
    assert rpo.age_seconds({"lastRecoveryPoint": "2026-12-09T13:00:00Z"}, NOW) == 0  # clocks apart: not negative
    assert rpo.age_seconds({"lastRecoveryPoint": "not a time"}, NOW) is None
    assert rpo.age_seconds({}, NOW) is None


def test_rpo_findings_name_the_policy_they_break() -> None:
    item = Resource(Address("asr.protected_item", "acmecorp", "VM01"), {"policy": "AcmeCorp-Policy"}, site="w")
    policy = Resource(
        Address("asr.replication_policy", "acmecorp", "AcmeCorp-Policy"),
        {"replicationIntervalSeconds": 900, "recoveryPointHours": 1},
    )
    seen = Observed(item.address, {}, status={"lastRecoveryPoint": "2026-12-09T10:00:00Z", "rpoSeconds": 7200})
    (found,) = rpo.findings([item], {item.address: seen}, declared=[item, policy], now=NOW)
    assert (found.check, found.severity, found.threshold) == ("rpo", "critical", 1800)
    assert found.message == (
        "protected VM VM01: latest recovery point 2h 00m old, beyond the 1 h retention of policy AcmeCorp-Policy"
    )
    assert found.value == {"ageSeconds": 7200.0, "lastRecoveryPoint": "2026-12-09T10:00:00Z", "rpoSeconds": 7200}
    assert found.evidence is not None and found.evidence["criticalSeconds"] == 3600
    fresh = Observed(item.address, {}, status={"recoveryPointAgeSeconds": 900})
    assert rpo.findings([item], {item.address: fresh}, declared=[item, policy], now=NOW) == ()
    assert rpo.findings([item], {item.address: None}, declared=[item, policy], now=NOW) == ()


def test_a_failure_at_each_step_makes_its_verdict() -> None:
    def one(step: Step) -> tuple[Failure, ...]:
        return (Failure(step, "x", "why"),)

    for step in (Step.TEST_FAILOVER, Step.VM_CHECK, Step.CLEANUP, Step.RPO, Step.PROTECTION, Step.LEFTOVER):
        assert verdict(one(step), interrupted=True, drilled=True) is Verdict.FAILED, step
    assert verdict(one(Step.LOCK), interrupted=False, drilled=False) is Verdict.ERROR
    assert verdict(one(Step.RECOVERY_POINT), interrupted=False, drilled=True) is Verdict.PASSED  # RPO unknown only
    assert verdict((), interrupted=True, drilled=True) is Verdict.INTERRUPTED
    assert verdict((), interrupted=False, drilled=False) is Verdict.ERROR  # nothing failed over is not a pass


# ----------------------------------------------------------------------------------------------------- reports


def _tenant(name: str, *, failed: bool = False, vms: int = 2) -> TenantDrill:
    point = PointSeen("2026-12-09T11:55:00+00:00", "CrashConsistent", 300.0, 300)
    target = TargetDrill(
        address=f"asr.recovery_plan:{name}/{name}-DR",
        kind="asr.recovery_plan",
        name=f"{name}-DR",
        vms=tuple(
            VmDrill(f"{EVIL}{i}", f"asr.protected_item:{name}/VM{i}", "WaitingForCompletion", not (failed and i), point)
            for i in range(vms)
        ),
        test_failover=JobSeen("job-1", "Failed" if failed else "Succeeded", None, None, 12.5),
        cleanup=JobSeen("job-2", "Succeeded", None, None, 3.0),
        rto_s=None if failed else 12.5,
        failures=(Failure(Step.TEST_FAILOVER, f"asr.protected_item:{name}/VM1", f"did not boot {EVIL}"),)
        if failed
        else (),
    )
    return TenantDrill(
        tenant=name,
        site="contoso-west",
        verdict=Verdict.FAILED if failed else Verdict.PASSED,
        network=f"{name}-drill",
        policy=RpoPolicy(f"{name}-Policy", 300, 24),
        targets=(target,),
        started_at="2026-12-09T12:00:00+00:00",
        duration_s=20.0,
    )


def _report(tenants: int = 2) -> DrillReport:
    return DrillReport(
        created_at="2026-12-09T12:00:00+00:00",
        spec_digest="abcdef0123456789",
        tenants=tuple(_tenant(f"tenant{i:04d}", failed=i == 1) for i in range(tenants)),
        run_id="0123456789ab",
    )


def test_the_json_document_reads_back_as_it_was_written() -> None:
    document = drill_json.to_dict(_report(), spec_paths=["/specs"])
    again, paths = drill_json.from_dict(json.loads(json.dumps(document)))
    assert paths == ["/specs"] and drill_json.to_dict(again, spec_paths=paths) == document
    assert document["result"] == "failed" and document["counts"]["vmsFailedOver"] == 3
    with pytest.raises(drill_json.DrillFormatError, match="format version 9"):
        drill_json.from_dict({**document, "formatVersion": 9})
    with pytest.raises(drill_json.DrillFormatError, match="not a reconciler drill report"):
        drill_json.from_dict({"kind": "drift"})


def test_the_markdown_fits_a_comment_and_escapes_every_value() -> None:
    page = drill_markdown.render(_report())
    assert page.startswith("### reconciler drill — DR drill FAILED: 2 tenants (1 passed, 1 failed)")
    assert page.index("| tenant0001 |") < page.index("| tenant0000 |")  # failed first
    assert "&lt;script&gt;" in page and "<script>" not in page
    big = drill_markdown.render(_report(tenants=600))
    assert len(big) <= drill_markdown.LIMIT and "**Truncated:**" in big
    assert big.count("<details>") == big.count("</details>") <= 1


def test_the_html_page_is_self_contained_and_escaped() -> None:
    page = drill_html.render(_report())
    checker = parsed(page)
    assert "script" not in checker.tags and EVIL in " ".join(checker.text)
    assert "svg" in checker.tags and checker.tags.count("rect") >= 6  # three zones and a bar per tenant
    assert "<link" not in page and "src=" not in page and "@import" not in page


def test_the_drill_report_in_headless_chromium(tmp_path: Path) -> None:
    chromium()  # skipped (or failed on CI) before any work when there is no browser
    estate = applied_estate(tmp_path / "estate.db", SPECS)

    def no_boot(row: Row) -> None:
        row.status["testFailoverError"] = "the VM did not boot: no bootable disk"

    edit_row(estate, Address("asr.protected_item", "fabrikam", "FAB-WEB01"), no_boot)
    page = tmp_path / "drill.html"
    result = run("drill", SPECS, "--estate", estate, "--format", "html", "-o", page)
    assert result.exit_code == 2
    parsed(page.read_text(encoding="utf-8"))
    dom = render(page, screenshot="drill-report.png", profile=tmp_path / "chromium-profile", height=1400)
    for expected in ("DR drill FAILED", "FAB-WEB01", "the VM did not boot: no bootable disk", "BlueNetwork-DR-drill"):
        assert expected in dom, expected
    assert "RPO against the policy" in dom and "<svg" in dom
