"""``reconciler drill`` on the embedded estate, end to end through the CLI (and the run in-process where a test must
choose the moment): a drill that passes and leaves nothing behind, a VM that fails its test failover (named, with
its cause, and still cleaned up), an RPO beyond the policy (a failed drill, and a drift finding), a tenant locked by
another run, a drill network that is missing, production or peered, a test failover an earlier killed run left,
an interrupted drill (in-process, and by SIGTERM) cleaned up, the JSON report's shape, the history store and
``reconciler show``."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.addresses import Address
from reconciler.engine.drill import Verdict
from reconciler.providers.embedded import seed
from reconciler.providers.embedded.store import EstateStore, Row
from reconciler.runs import drill as run_drill
from reconciler.runs import session as run_session
from reconciler.runs.clock import FixedClock, parse_time
from reconciler.store import db as store_db
from reconciler.store import history, locks
from tests.helpers import EMBEDDED_ENV, SPECS, applied_estate, copy_specs, edit_row, edit_text, isolate, out, run

VM01 = Address("asr.protected_item", "acmecorp", "VM01")
FAB_WEB = Address("asr.protected_item", "fabrikam", "FAB-WEB01")
FAB_SQL = Address("asr.protected_item", "fabrikam", "FAB-SQL01")
PLAN = Address("asr.recovery_plan", "fabrikam", "Fabrikam-DR")
ACME_DRILL_NET = Address("azure.virtual_network", "acmecorp", "YellowNetwork-drill")
ITEMS = (VM01, FAB_WEB, FAB_SQL)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch, unset=(seed.ENV_ESTATE_DB, *EMBEDDED_ENV), audit_log="audit.jsonl")


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    """The shipped estate with the example specs applied: two tenants protected, each with its drill network."""
    return applied_estate(tmp_path / "estate.db")


def _drill(estate: Path, *extra: str | Path, specs: Path = SPECS) -> tuple[int, dict[str, Any]]:
    result = run("drill", specs, "--estate", estate, "--format", "json", *extra)
    assert result.exit_code in (0, 1, 2), out(result)
    return result.exit_code, json.loads(result.stdout)


def _status(estate: Path, address: Address) -> dict[str, Any]:
    store = EstateStore(estate)
    try:
        row = store.get(address)
        assert row is not None, address
        return dict(row.status)
    finally:
        store.close()


def _cleaned_up(estate: Path) -> None:
    """No test VM left anywhere: every protected item out of its test failover, the plan's scenario over."""
    for item in ITEMS:
        status = _status(estate, item)
        assert status["testFailoverState"] == "None", (item, status)
        assert "testVm" not in status and "testNetwork" not in status, (item, status)
    assert _status(estate, PLAN).get("currentScenarioStatus", "Succeeded") == "Succeeded"


def _tenant(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in document["tenants"] if t["tenant"] == name)


# ------------------------------------------------------------------------------------------------- passing


def test_a_drill_passes_end_to_end_and_leaves_nothing_behind(estate: Path) -> None:
    code, document = _drill(estate)
    assert code == 0, document
    assert document["formatVersion"] == 1 and document["kind"] == "drill" and document["result"] == "passed"
    assert document["counts"] == {
        "tenants": 2,
        "passed": 2,
        "failed": 0,
        "error": 0,
        "interrupted": 0,
        "vms": 3,
        "vmsFailedOver": 3,
    }
    fabrikam = _tenant(document, "fabrikam")
    assert fabrikam["result"] == "passed" and fabrikam["network"] == "BlueNetwork-DR-drill"
    # RPO: the recovery point's age (the estate keeps it one replication interval old), against the policy.
    assert fabrikam["rpo"] == {
        "seconds": 300.0,
        "status": "ok",
        "policy": "Fabrikam-Policy",
        "replicationIntervalSeconds": 300,
        "recoveryPointHours": 24,
        "warningSeconds": 600.0,
        "criticalSeconds": 86400.0,
    }
    assert fabrikam["rto"]["seconds"] is not None and fabrikam["failures"] == []
    (plan,) = fabrikam["targets"]  # the recovery plan holds both VMs: one target
    assert (plan["address"], plan["kind"], plan["passed"]) == (str(PLAN), "asr.recovery_plan", True)
    assert [vm["name"] for vm in plan["vms"]] == ["FAB-SQL01", "FAB-WEB01"]  # group by group, in failover order
    assert all(vm["failedOver"] and vm["testFailoverState"] == "WaitingForCompletion" for vm in plan["vms"])
    assert plan["testFailover"]["state"] == plan["cleanup"]["state"] == "Succeeded"
    assert plan["vms"][0]["recoveryPoint"]["ageSeconds"] == 300.0 and plan["vms"][0]["rpo"] == "ok"
    (vm01,) = _tenant(document, "acmecorp")["targets"]  # no plan: its one protected VM alone
    assert (vm01["kind"], vm01["name"]) == ("asr.protected_item", "VM01")
    _cleaned_up(estate)
    # The verdict is written on the cleanup (ASR keeps the comments with the test failover).
    assert _status(estate, VM01)["testFailoverComments"] == f"reconciler drill {document['runId']}: passed"

    # Recorded: a drill run with its report, rendered again by show, in every format.
    (recorded,) = history.list_runs(5, kind="drill")
    assert (recorded.id, recorded.result) == (document["runId"], "passed")
    assert recorded.counts == {"passed": 2, "vms": 3, "vmsFailedOver": 3}
    listed = run("history", "--kind", "drill")
    assert listed.exit_code == 0 and recorded.id in listed.stdout
    shown = run("show", recorded.id)
    assert shown.exit_code == 0, out(shown)
    assert "recovery plan Fabrikam-DR" in shown.stdout and "DR drill passed: 2 tenants (2 passed)" in shown.stdout
    again = json.loads(run("show", recorded.id, "--format", "json").stdout)
    assert again == document
    assert "| fabrikam | contoso-west | **passed** |" in run("show", recorded.id, "--format", "markdown").stdout
    assert "<svg" in run("show", recorded.id, "--format", "html").stdout

    # The audit trail has every test failover and cleanup: a drill creates and deletes test VMs.
    events = [json.loads(line)["event"] for line in Path("audit.jsonl").read_text(encoding="utf-8").splitlines()]
    drill_events = [e for e in events if e.startswith("drill.")]
    assert drill_events.count("drill.test-failover") == drill_events.count("drill.cleanup") == 2
    assert drill_events[0] == "drill.start" and drill_events[-1] == "drill.end"


def test_a_target_picks_tenants_and_a_bad_one_is_refused(estate: Path) -> None:
    code, document = _drill(estate, "--target", "tenant/fabrikam")
    assert code == 0 and [t["tenant"] for t in document["tenants"]] == ["fabrikam"]
    code, document = _drill(estate, "--target", "site/contoso-west")
    assert code == 0 and [t["tenant"] for t in document["tenants"]] == ["acmecorp", "fabrikam"]
    for bad, said in (
        ("tenant/nobody", "--target tenant/nobody: no tenant 'nobody' in the specs (known: acmecorp, fabrikam)"),
        ("asr.vault", "--target asr.vault: a drill targets tenant/NAME or site/NAME"),
    ):
        result = run("drill", SPECS, "--estate", estate, "--target", bad)
        assert result.exit_code == 1 and said in out(result)
    assert history.list_runs(10, kind="drill")[0].result == "passed"  # a refused target records no run


# ------------------------------------------------------------------------------------------------- failing


def test_a_vm_that_fails_its_test_failover_is_named_with_its_cause_and_still_cleaned_up(estate: Path) -> None:
    def no_boot(row: Row) -> None:
        row.status["testFailoverError"] = "the VM did not boot: no bootable disk"

    edit_row(estate, FAB_WEB, no_boot)
    code, document = _drill(estate)
    assert code == 2 and document["result"] == "failed"
    fabrikam = _tenant(document, "fabrikam")
    assert fabrikam["result"] == "failed" and fabrikam["rto"]["seconds"] is None
    causes = {(f["step"], f["address"]): f["cause"] for f in fabrikam["failures"]}
    assert "FAB-WEB01: the VM did not boot: no bootable disk" in causes[("test-failover", str(PLAN))]
    assert "FAB-WEB01" in causes[("vm-check", str(FAB_WEB))]
    (plan,) = fabrikam["targets"]
    assert {vm["name"]: vm["failedOver"] for vm in plan["vms"]} == {"FAB-SQL01": True, "FAB-WEB01": False}
    assert plan["cleanup"]["state"] == "Succeeded"  # the group that failed over is cleaned up all the same
    assert _tenant(document, "acmecorp")["result"] == "passed"  # the other tenant is not held back
    _cleaned_up(estate)
    assert _status(estate, FAB_SQL)["testFailoverComments"].endswith(
        "failed: test failover of Fabrikam-DR failed: FAB-WEB01: the VM did not boot: no bootable disk"
    )
    text = run("drill", SPECS, "--estate", estate, "--target", "tenant/fabrikam")
    assert text.exit_code == 2
    assert "✗ FAB-WEB01  not failed over (Failed)" in text.stdout
    assert "DR drill FAILED: 1 tenant (1 failed); 1 of 2 VMs failed over; test failovers cleaned up." in text.stdout


def test_an_rpo_beyond_the_policy_fails_the_drill_and_is_a_drift_finding(estate: Path) -> None:
    def behind(seconds: int) -> Any:
        def change(row: Row) -> None:
            row.status["recoveryPointAgeSeconds"] = seconds

        return change

    edit_row(estate, VM01, behind(2400))  # over twice the 900 s interval, within the 1 h retention: a warning
    code, document = _drill(estate, "--target", "tenant/acmecorp")
    acme = _tenant(document, "acmecorp")
    assert code == 0 and acme["rpo"]["status"] == "warning" and acme["result"] == "passed"
    drift = run("drift", SPECS, "--estate", estate, "--format", "json")
    (finding,) = [h for h in json.loads(drift.stdout)["health"] if h["check"] == "rpo"]
    assert drift.exit_code == 2 and finding["severity"] == "warning" and finding["address"] == str(VM01)
    assert finding["value"]["ageSeconds"] == 2400 and finding["threshold"] == 1800
    assert "twice the 900 s replication interval of policy AcmeCorp-Policy" in finding["message"]

    edit_row(estate, VM01, behind(7200))  # beyond the retention: critical; the drill failed over stale data
    code, document = _drill(estate, "--target", "tenant/acmecorp")
    acme = _tenant(document, "acmecorp")
    assert code == 2 and acme["result"] == "failed" and acme["rpo"]["status"] == "critical"
    (failure,) = acme["failures"]
    assert failure["step"] == "rpo" and "2.0 h old, beyond 1 h (policy AcmeCorp-Policy)" in failure["cause"]
    text = run("drift", SPECS, "--estate", estate)
    assert "critical protected VM VM01: latest recovery point 2h 00m old, beyond the 1 h retention" in out(text)


def test_a_tenant_another_run_holds_is_not_drilled(estate: Path) -> None:
    with store_db.open_store(None) as store:
        held = locks.acquire(["tenant/fabrikam"], holder="alice@ops1", command="reconciler apply", store=store)
        try:
            code, document = _drill(estate)
        finally:
            held.release()
    assert code == 1 and document["result"] == "error"
    fabrikam = _tenant(document, "fabrikam")
    (failure,) = fabrikam["failures"]
    assert fabrikam["result"] == "error" and failure["step"] == "lock"
    assert "tenant/fabrikam is locked by alice@ops1" in failure["cause"] and "reconciler apply" in failure["cause"]
    assert fabrikam["targets"] == [] and _status(estate, FAB_SQL)["testFailoverState"] == "None"
    assert _tenant(document, "acmecorp")["result"] == "passed"


def test_the_drill_network_must_exist_be_isolated_and_named(estate: Path, tmp_path: Path) -> None:
    def peered(row: Row) -> None:
        row.status["peerings"] = ["to-production"]

    edit_row(estate, ACME_DRILL_NET, peered)
    code, document = _drill(estate, "--target", "tenant/acmecorp")
    (failure,) = _tenant(document, "acmecorp")["failures"]
    assert code == 1 and failure["step"] == "precheck"
    assert "YellowNetwork-drill is peered (to-production): it is not isolated" in failure["cause"]

    specs = copy_specs(tmp_path)
    edit_text(specs / "tenants" / "acmecorp.yaml", "    drill: {}", "    drill: {network: Isolated-Test}")
    code, document = _drill(estate, "--target", "tenant/acmecorp", specs=specs)
    (failure,) = _tenant(document, "acmecorp")["failures"]
    assert code == 1 and "the drill network Isolated-Test does not exist: apply the specs" in failure["cause"]

    edit_text(specs / "tenants" / "acmecorp.yaml", "    drill: {network: Isolated-Test}", "")
    code, document = _drill(estate, "--target", "tenant/acmecorp", specs=specs)
    (failure,) = _tenant(document, "acmecorp")["failures"]
    assert code == 1 and "names no drill network: add `drill: {}` to spec.recovery" in failure["cause"]
    assert _status(estate, VM01)["testFailoverState"] == "None"  # nothing was failed over


def test_a_test_failover_an_earlier_run_left_is_cleaned_up_first(estate: Path) -> None:
    def left(row: Row) -> None:
        row.status.update(testFailoverState="WaitingForCompletion", testVm="VM01-test")

    edit_row(estate, VM01, left)
    code, document = _drill(estate, "--target", "tenant/acmecorp")
    (target,) = _tenant(document, "acmecorp")["targets"]
    assert code == 0 and target["leftoverCleaned"] is True and target["passed"] is True
    _cleaned_up(estate)


def test_while_a_tenant_drills_no_apply_can_take_its_scope(estate: Path) -> None:
    """The drill holds tenant/NAME (apply's lock) from before its test failover until after its cleanup."""
    refused: list[str] = []

    class TryToApply(run_drill.DrillObserver):
        def progress(self, tenant: str, message: str) -> None:
            if "started in the test network" in message:
                with pytest.raises(locks.LockHeld) as held:
                    locks.acquire([f"tenant/{tenant}"], command="reconciler apply").release()
                refused.append(f"{held.value.scope} {held.value.command}")

    session = run_session.load([SPECS], targets=["tenant/acmecorp"], excludes=[], estate=estate)
    try:
        found = run_drill.drill_run(
            session, run_drill.DrillRequest(targets=("tenant/acmecorp",)), observer=TryToApply(), run_id="r1"
        )
    finally:
        session.close()
    assert found.report.verdict is Verdict.PASSED
    assert refused == ["tenant/acmecorp drill r1"]
    locks.acquire(["tenant/acmecorp"]).release()  # released once the drill is over


# ----------------------------------------------------------------------------------------------- stopping


def test_a_drill_stopped_mid_way_cleans_up_what_it_failed_over(estate: Path) -> None:
    """The stop comes while acmecorp's VM is failing over (as a SIGTERM would): it finishes and is cleaned up;
    fabrikam, not started yet (one tenant at a time), is never failed over."""
    stop = threading.Event()

    class StopOnFailover(run_drill.DrillObserver):
        def progress(self, tenant: str, message: str) -> None:
            if "started in the test network" in message:
                stop.set()

    session = run_session.load([SPECS], targets=[], excludes=[], estate=estate)
    try:
        found = run_drill.drill_run(
            session,
            run_drill.DrillRequest(concurrency=1),
            observer=StopOnFailover(),
            clock=FixedClock(parse_time("2026-12-09T12:00:00Z")),
            stop=stop,
        )
    finally:
        session.close()
    report = found.report
    assert report.interrupted and report.verdict is Verdict.INTERRUPTED
    acme, fabrikam = report.tenants
    assert acme.verdict is Verdict.PASSED  # its one target was done when the stop came
    (target,) = acme.targets
    assert target.test_failover is not None and target.cleanup is not None  # failed over, then cleaned up
    assert fabrikam.verdict is Verdict.INTERRUPTED and fabrikam.targets == ()
    assert fabrikam.failures[0].cause == "the run was stopped before the tenant's drill"
    assert found.document["result"] == "interrupted" and found.document["createdAt"] == "2026-12-09T12:00:00+00:00"
    _cleaned_up(estate)
    assert "testFailoverComments" not in _status(estate, FAB_SQL)  # never touched


@pytest.mark.slow
def test_sigterm_during_a_drill_cleans_up_then_exits_130(estate: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "NO_COLOR": "1",
        # Each job takes 30 polls of 50 ms: the signal lands while acmecorp's test failover runs, long before the
        # two tenants (one at a time) could be done.
        "RECONCILER_EMBEDDED_LATENCY_MS": "50",
        "RECONCILER_EMBEDDED_JOB_POLLS": "30",
    }
    command = [sys.executable, "-m", "reconciler", "--log-format", "json", "drill", str(SPECS)]
    command += ["--estate", str(estate), "--concurrency", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    stderr: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            stderr.append(line)
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while True:
            line = lines.get(timeout=60)  # bounded: the drill logs its first test failover within seconds
            if '"drill.test-failover"' in line:
                break
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)  # stderr is the reader's; the report on stdout is small enough for its pipe
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=10)
    assert process.stdout is not None
    stdout = process.stdout.read()
    assert process.returncode == 130, (stdout, "".join(stderr))
    assert "DR drill interrupted" in stdout
    assert any('"drill.stopping"' in line for line in stderr)
    _cleaned_up(estate)
    assert _status(estate, VM01)["testFailoverComments"].startswith("reconciler drill ")
    (recorded,) = history.list_runs(5, kind="drill")
    assert recorded.result == "interrupted"
