"""``reconciler watch``: drift on an interval, with metrics, a webhook and auto-correct.

All local: the embedded estate in ``tmp_path``, HTTP on 127.0.0.1 only (free ports), bounded loops and
timeouts. The estate is changed behind the tool's back with ``EstateStore`` (as in tests/test_drift.py)."""

from __future__ import annotations

import http.server
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.cli import watch_cmds
from reconciler.core.addresses import Address
from reconciler.engine import watch
from reconciler.providers.embedded import seed
from reconciler.providers.embedded.store import EstateStore, Row
from reconciler.runs import webhook
from reconciler.store import db, locks
from tests.helpers import EMBEDDED_ENV, applied_estate, copy_specs, isolate
from tests.helpers import edit_row as _edit
from tests.helpers import out as _out
from tests.helpers import run as _run

SITE = "contoso-west"
POLICY = Address("asr.replication_policy", "acmecorp", "AcmeCorp-Policy")
FABRIKAM_POLICY = Address("asr.replication_policy", "fabrikam", "Fabrikam-Policy")
BIOS = Address("bmc.bios", SITE, "HV01.contoso.int")
ENVIRONMENT = (
    seed.ENV_ESTATE_DB,
    watch_cmds.ENV_WEBHOOK,
    *EMBEDDED_ENV,
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A private history store per test (last_applied and locks are this test's only)."""
    isolate(tmp_path, monkeypatch, unset=ENVIRONMENT, audit_log="-")


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    """The example specs, with no maintenance window: a disruptive correction is never inside one, whatever
    the day the test runs."""
    copy = copy_specs(tmp_path)
    power = copy / "profiles" / "power.yaml"
    text = power.read_text("utf-8")
    assert "maintenanceWindow" in text
    power.write_text(re.sub(r"\n\s*maintenanceWindow:[^\n]*", "", text), "utf-8")
    return copy


@pytest.fixture
def estate(tmp_path: Path, specs: Path) -> Path:
    """The shipped estate with the specs applied (disruptive steps allowed)."""
    return applied_estate(tmp_path / "estate.db", specs)


def _live(estate: Path, address: Address) -> dict[str, Any]:
    store = EstateStore(estate)
    try:
        row = store.get(address)
        assert row is not None, address
        return row.data
    finally:
        store.close()


def _slower_policy(estate: Path) -> None:
    def slower(row: Row) -> None:
        row.data["replicationIntervalSeconds"] = 300

    _edit(estate, POLICY, slower)


def _classes(specs: Path, estate: Path) -> dict[str, str]:
    result = _run("drift", specs, "--format", "json", "--estate", estate)
    assert result.exit_code in (0, 2), _out(result)
    return {r["address"]: r["class"] for r in json.loads(result.stdout)["resources"]}


class _Hook:
    """A local incoming-webhook stand-in: records each POST, answers with the next status of ``statuses``."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.statuses = list(statuses or [])
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                hook.bodies.append(json.loads(self.rfile.read(length)))
                hook.paths.append(self.path)
                status = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/not-a-real-secret"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def hook() -> Iterator[_Hook]:
    server = _Hook()
    try:
        yield server
    finally:
        server.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --------------------------------------------------------------------------------------------- end to end


def test_once_in_sync_exits_0_and_posts_nothing(specs: Path, estate: Path, hook: _Hook) -> None:
    result = _run("watch", specs, "--once", "--estate", estate, "--webhook", hook.url)
    assert result.exit_code == 0, _out(result)
    assert "watch.cycle" in _out(result)
    assert hook.bodies == []


def test_once_posts_the_drift_summary_to_the_webhook(specs: Path, estate: Path, hook: _Hook) -> None:
    _slower_policy(estate)
    result = _run("watch", specs, "--once", "--estate", estate, "--webhook", hook.url)
    assert result.exit_code == 2, _out(result)
    assert len(hook.bodies) == 1
    body = hook.bodies[0]
    assert hook.paths == ["/services/T000/B000/not-a-real-secret"]
    assert isinstance(body["text"], str)
    assert "drift appeared" in body["text"]
    assert str(POLICY) in body["text"]
    assert body["event"] == "drift.appeared"
    assert body["summary"]["drifted"] == 1
    assert body["summary"]["total"] == 45
    assert body["drifted"] == [
        {"address": str(POLICY), "class": "drifted", "site": SITE, "tenant": "acmecorp"},
    ]
    acme = next(s for s in body["scopes"] if s["tenant"] == "acmecorp")
    assert acme["counts"]["drifted"] == 1
    shown = _out(result)
    assert "watch.webhook" in shown
    assert "not-a-real-secret" not in shown  # the webhook's path is its secret: never logged


def test_a_failing_webhook_is_a_warning_not_a_crash(specs: Path, estate: Path) -> None:
    _slower_policy(estate)
    result = _run("watch", specs, "--once", "--estate", estate, "--webhook", f"http://127.0.0.1:{_free_port()}/x")
    assert result.exit_code == 2, _out(result)
    assert "watch.webhook-failed" in _out(result)


def test_webhook_retries_server_errors_but_not_client_errors() -> None:
    flaky = _Hook([503, 200])
    try:
        assert webhook.post_webhook(flaky.url, {"text": "hi", "event": "drift.appeared"}, wait_s=0)
        assert len(flaky.bodies) == 2
    finally:
        flaky.close()
    refused = _Hook([400, 200])
    try:
        assert not webhook.post_webhook(refused.url, {"text": "hi"}, wait_s=0)
        assert len(refused.bodies) == 1
    finally:
        refused.close()
    assert not webhook.post_webhook(f"http://127.0.0.1:{_free_port()}/", {"text": "hi"}, wait_s=0, attempts=2)


def test_webhook_payload_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_TEST_PASSWORD", "hunter2-very-secret")
    from reconciler.runs import logs

    logs.configure()  # the redactor reads the environment once per command
    sink = _Hook()
    try:
        assert webhook.post_webhook(sink.url, {"text": "password hunter2-very-secret"}, wait_s=0)
    finally:
        sink.close()
    assert "hunter2-very-secret" not in json.dumps(sink.bodies)


def _metrics(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode("utf-8")
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


@pytest.mark.slow
def test_metrics_are_scraped_while_watching_and_sigterm_stops_cleanly(specs: Path, estate: Path) -> None:
    _slower_policy(estate)
    port = _free_port()
    command = [sys.executable, "-m", "reconciler", "watch", str(specs), "--every", "1s", "--jitter", "0"]
    command += ["--metrics-port", str(port), "--estate", str(estate)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"}
    )
    try:
        seen: dict[str, list[tuple[dict[str, str], float]]] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            try:
                seen = _metrics(port)
            except OSError:  # not listening yet
                seen = {}
            runs = sum(v for _, v in seen.get("reconciler_runs_total", []))
            if runs >= 2:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"fewer than 2 cycles in 60 s: {seen}")
        runs_by_result = {labels["result"]: v for labels, v in seen["reconciler_runs_total"]}
        assert runs_by_result["drift"] >= 2
        assert runs_by_result["error"] == 0
        drift = {(s["site"], s["tenant"], s["class"]): v for s, v in seen["reconciler_drift_objects"]}
        assert drift[(SITE, "acmecorp", "drifted")] == 1
        assert drift[(SITE, "", "in-sync")] >= 1
        assert sum(drift.values()) == 45
        (_, last_run), *_ = seen["reconciler_last_run_timestamp_seconds"]
        assert abs(last_run - time.time()) < 60
        (_, duration), *_ = seen["reconciler_last_run_duration_seconds"]
        assert 0 < duration < 60
        assert seen["reconciler_apply_failures_total"][0][1] == 0
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
    assert process.returncode == 0, stderr
    assert "watch.stopping" in stderr
    assert "watch.stopped" in stderr
    assert "Traceback" not in stderr + stdout


def test_auto_correct_converges_drift_but_not_pending_or_disruptive_changes(specs: Path, estate: Path) -> None:
    _slower_policy(estate)

    def dbpm(row: Row) -> None:
        row.data["attributes"] = {**row.data["attributes"], "SysProfile": "PerfPerWattOptimizedDapc"}

    _edit(estate, BIOS, dbpm)
    tenant = specs / "tenants" / "fabrikam.yaml"
    tenant.write_text(tenant.read_text("utf-8").replace("recoveryPointHours: 24", "recoveryPointHours: 12"), "utf-8")
    before = _classes(specs, estate)
    assert before[str(POLICY)] == "drifted"
    assert before[str(BIOS)] == "drifted"
    assert before[str(FABRIKAM_POLICY)] == "pending"

    corrected = _run("watch", specs, "--once", "--auto-correct", "--estate", estate)
    assert corrected.exit_code == 2, _out(corrected)  # what the cycle found, before correcting it
    assert "watch.corrected" in _out(corrected)
    after = _classes(specs, estate)
    assert after[str(POLICY)] == "in-sync"  # converged
    assert after[str(FABRIKAM_POLICY)] == "pending"  # a spec change: not without --apply-pending
    assert after[str(BIOS)] == "drifted"  # disruptive, no window open: held
    assert _live(estate, BIOS)["attributes"]["SysProfile"] == "PerfPerWattOptimizedDapc"
    assert _live(estate, FABRIKAM_POLICY)["recoveryPointHours"] == 24

    pending = _run("watch", specs, "--once", "--auto-correct", "--apply-pending", "--estate", estate)
    assert pending.exit_code == 2, _out(pending)
    after = _classes(specs, estate)
    assert after[str(FABRIKAM_POLICY)] == "in-sync"
    assert after[str(BIOS)] == "drifted"  # still held
    assert _live(estate, BIOS)["attributes"]["SysProfile"] == "PerfPerWattOptimizedDapc"
    remaining = {a: c for a, c in after.items() if c != "in-sync"}
    assert remaining == {str(BIOS): "drifted"}

    history = _run("history", "--format", "json")
    assert history.exit_code == 0, _out(history)
    applies = [r for r in json.loads(history.stdout) if r["kind"] == "apply"]
    assert [r["result"] for r in applies[:2]] == ["held", "held"]  # the two corrections, newest first


def test_auto_correct_skips_a_scope_another_apply_holds(specs: Path, estate: Path) -> None:
    _slower_policy(estate)
    with locks.acquire(["tenant/acmecorp"], command="reconciler apply"):
        result = _run("watch", specs, "--once", "--auto-correct", "--estate", estate)
    assert result.exit_code == 2, _out(result)
    assert "watch.correct-skipped" in _out(result)
    assert _classes(specs, estate)[str(POLICY)] == "drifted"  # untouched


def test_a_skipped_correction_is_a_metric_and_a_webhook_notice(specs: Path, estate: Path, hook: _Hook) -> None:
    """Another apply (alive: this process) holds the scope: the correction is skipped, counted as an apply
    failure and a skipped correction, and posted once while it stays skipped."""
    from reconciler.runs.metrics import Metrics
    from reconciler.runs.watch import Options
    from reconciler.runs.watch import watch as run_watch

    _slower_policy(estate)
    metrics = Metrics()
    options = Options(
        path=specs, targets=[], excludes=[], estate=estate, auto_correct=True, webhook=hook.url, once=True
    )
    with locks.acquire(["tenant/acmecorp"], command="reconciler apply"):
        for _ in range(2):
            cycle = run_watch(options, stop=threading.Event(), metrics=metrics)
            assert cycle.correction is not None and cycle.correction.locked
    assert metrics.registry.get_sample_value("reconciler_corrections_skipped_total") == 2
    assert metrics.registry.get_sample_value("reconciler_apply_failures_total") == 2
    skipped = [b for b in hook.bodies if b["event"] == "correction.skipped"]
    assert len(skipped) == 2  # each watch() call is a new watch: its first skipped cycle is worth a post
    assert "tenant/acmecorp is locked" in skipped[0]["text"] and skipped[0]["addresses"] == 1


def test_a_killed_watchs_own_lock_does_not_block_its_corrections_after_restart(specs: Path, estate: Path) -> None:
    """A watch killed mid-correction left its lock (this host, a process that is gone): after the restart the
    correction takes it over, says so, and corrects."""
    _slower_policy(estate)
    left = locks.acquire(["tenant/acmecorp"], command="reconciler watch --auto-correct")
    with db.open_store(None) as store, store.engine.begin() as conn:  # as if its process were gone (pid reused)
        conn.execute(locks.locks_table.update().values(process_started="another-boot:1"))
    result = _run("watch", specs, "--once", "--auto-correct", "--estate", estate)
    assert result.exit_code == 2, _out(result)
    assert "watch.correct-skipped" not in _out(result)
    assert "lock.reclaimed" in _out(result) or "released the lock" in _out(result)
    assert _classes(specs, estate)[str(POLICY)] == "in-sync"
    left.store.close()


def test_bad_arguments_exit_1(specs: Path) -> None:
    assert _run("watch", specs, "--every", "soon", "--once").exit_code == 1
    assert _run("watch", specs, "--jitter", "150%", "--once").exit_code == 1
    assert _run("watch", specs, "--apply-pending", "--once").exit_code == 1
    assert _run("watch", specs, "--webhook", "ftp://example.invalid/", "--once").exit_code == 1


def test_a_failed_cycle_exits_1_with_once(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "t.yaml").write_text("apiVersion: reconciler/v1\nkind: Tenant\nmetadata: {name: x}\nspec: {nope: 1}\n")
    result = _run("watch", bad, "--once", "--estate", tmp_path / "e.db")
    assert result.exit_code == 1
    assert "watch.cycle" in _out(result)


# --------------------------------------------------------------------------------------------- pure parts


def test_parse_jitter() -> None:
    assert watch.parse_jitter("10%") == pytest.approx(0.1)
    assert watch.parse_jitter("0.25") == pytest.approx(0.25)
    assert watch.parse_jitter("0") == 0
    for bad in ("-5%", "2", "lots"):
        with pytest.raises(ValueError):
            watch.parse_jitter(bad)


def test_next_delay_stays_within_the_jitter() -> None:
    rng = random.Random(7)
    delays = [watch.next_delay(900, 0.1, rng) for _ in range(200)]
    assert all(900 <= d <= 990 for d in delays)
    assert len(set(delays)) > 100
    assert watch.next_delay(60, 0, rng) == 60


def test_notice_on_appear_change_and_clear() -> None:
    a, b = frozenset({"x"}), frozenset({"x", "y"})
    assert watch.notice(None, frozenset()) is None
    assert watch.notice(None, a) is watch.Notice.APPEARED
    assert watch.notice(frozenset(), a) is watch.Notice.APPEARED
    assert watch.notice(a, a) is None
    assert watch.notice(a, b) is watch.Notice.CHANGED
    assert watch.notice(b, frozenset()) is watch.Notice.CLEARED
