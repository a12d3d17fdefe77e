"""The WinRM provider's parts without a transport: the Description marker, the read snapshots a kind family's
script shares, the VMM job waits (progress, ErrorInfo, timeout on an injected clock), what Set-SCVirtualMachine
is sent for each memory change, the ObjectNotFound boundary, and the provider-wide settings."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from typing import Any

import pytest

from reconciler.core import desired as typed
from reconciler.core.errors import NotFoundError, PermanentError
from reconciler.providers.winrm import marker
from reconciler.providers.winrm.context import SiteRef, WinRMContext
from reconciler.providers.winrm.contract import ErrorRecord, ScriptResult
from reconciler.providers.winrm.credentials import SettingsError
from reconciler.providers.winrm.errors import ScriptError
from reconciler.providers.winrm.jobs import Jobs
from reconciler.providers.winrm.session import SNAPSHOT_MAX_AGE_S, Session
from reconciler.providers.winrm.settings import EndpointSettings, WinRMSettings
from reconciler.providers.winrm.vms import vmm_settings

SITE = SiteRef("contoso-west", "VMM01.contoso.int", None, None)
NETWORKS = frozenset({"vmm.logical_network", "vmm.network_site", "vmm.ip_pool"})


def _settings(**extra: str) -> WinRMSettings:
    env = {
        "RECONCILER_WINRM": "on",
        "RECONCILER_WINRM_USER": "svc",
        "RECONCILER_WINRM_PASSWORD": secrets.token_urlsafe(),
    }
    settings = WinRMSettings.from_env(env | extra)
    assert settings is not None
    return settings


class Runner:
    """Answers each run with the next reply (a ScriptResult's output, or an ErrorRecord to raise)."""

    def __init__(self, *replies: Any, gate: threading.Event | None = None) -> None:
        self.replies = list(replies)
        self.runs: list[tuple[str, str, Any]] = []
        self.gate = gate

    def run(self, endpoint: EndpointSettings, script: str, data: Any = None) -> ScriptResult:
        self.runs.append((endpoint.host, script, data))
        if self.gate is not None:
            assert self.gate.wait(5)
        reply = self.replies.pop(0)
        if isinstance(reply, ErrorRecord):
            raise ScriptError(reply.message, record=reply, endpoint=endpoint.host, script=script)
        return ScriptResult(tuple(reply))

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 1.0)


def _session(runner: Runner, clock: Clock | None = None) -> Session:
    return Session(_settings(), WinRMContext(), runner, clock=clock or Clock())


# --- the marker ---------------------------------------------------------------------------------------------------


def test_the_marker_round_trips_after_any_text_and_replaces_an_older_one() -> None:
    written = marker.describe("Tenant NICs\nmay not", scope="contoso-west", prune=True, protect=False)
    assert (
        written
        == "Tenant NICs\nmay not\n[reconciler: managed-by=reconciler; scope=contoso-west; prune=true; protect=false]"
    )
    again = marker.describe(written, scope="acmecorp", prune=False, protect=True)
    assert again.count("[reconciler:") == 1 and again.startswith("Tenant NICs\nmay not\n")
    parsed = marker.parse(again)
    assert (parsed.text, parsed.owned, parsed.scope) == ("Tenant NICs\nmay not", True, "acmecorp")
    assert parsed.marker == {"managedBy": "reconciler", "prune": False, "protect": True}
    assert marker.describe("", scope="s", prune=False, protect=False).startswith("[reconciler:")


@pytest.mark.parametrize(
    "description",
    [None, "", "made by hand", "[reconciler: managed-by=someone-else; scope=x]", "[reconciler: scope=x] trailing text"],
)
def test_a_description_without_the_tools_marker_is_not_owned(description: str | None) -> None:
    parsed = marker.parse(description)
    assert not parsed.owned and parsed.scope is None and parsed.marker is None
    assert parsed.text == (description or "")


# --- the read snapshots -------------------------------------------------------------------------------------------


def test_one_family_run_serves_each_kind_once_then_a_new_pass_runs_again() -> None:
    runner = Runner([{"logicalNetworks": [1]}], [{"logicalNetworks": [2]}])
    session = _session(runner)
    first = [session.family(SITE, "vmm_networks", kind=k, kinds=NETWORKS)["logicalNetworks"] for k in sorted(NETWORKS)]
    assert first == [[1], [1], [1]] and len(runner.runs) == 1
    assert runner.runs[0] == (
        "VMM01.contoso.int",
        "vmm_networks",
        {"operation": "read", "kinds": sorted(NETWORKS), "names": None},
    )
    assert session.family(SITE, "vmm_networks", kind="vmm.ip_pool", kinds=NETWORKS)["logicalNetworks"] == [2]


def test_a_kind_asking_twice_starts_a_new_run() -> None:
    runner = Runner([{"n": 1}], [{"n": 2}])
    session = _session(runner)
    assert session.family(SITE, "vmm_networks", kind="vmm.ip_pool", kinds=NETWORKS)["n"] == 1
    assert session.family(SITE, "vmm_networks", kind="vmm.ip_pool", kinds=NETWORKS)["n"] == 2


def test_a_write_or_age_drops_the_snapshot() -> None:
    clock = Clock()
    runner = Runner([{"n": 1}], [{"id": "x", "jobs": []}], [{"n": 2}], [{"n": 3}])
    session = _session(runner, clock)
    assert session.family(SITE, "vmm_networks", kind="vmm.ip_pool", kinds=NETWORKS)["n"] == 1
    session.write(SITE, "vmm_networks", {"operation": "remove"})
    assert session.family(SITE, "vmm_networks", kind="vmm.network_site", kinds=NETWORKS)["n"] == 2
    clock.now += SNAPSHOT_MAX_AGE_S + 1
    assert session.family(SITE, "vmm_networks", kind="vmm.logical_network", kinds=NETWORKS)["n"] == 3


def test_kinds_reading_at_once_share_the_one_run_in_flight() -> None:
    gate = threading.Event()
    runner = Runner([{"n": 1}], gate=gate)
    session = _session(runner)
    answers: dict[str, Mapping[str, Any]] = {}

    def read(kind: str) -> None:
        answers[kind] = session.family(SITE, "vmm_networks", kind=kind, kinds=NETWORKS)

    threads = [threading.Thread(target=read, args=(k,)) for k in sorted(NETWORKS)]
    for thread in threads:
        thread.start()
    while len(runner.runs) < 1:
        threading.Event().wait(0.01)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert len(runner.runs) == 1 and {a["n"] for a in answers.values()} == {1} and len(answers) == 3


def test_object_not_found_is_the_one_not_found() -> None:
    missing = ErrorRecord(message="logical network 'X' does not exist", cmdlet="Write-Error", category="ObjectNotFound")
    refused = ErrorRecord(
        message="in use", cmdlet="Remove-SCLogicalNetwork", category="InvalidOperation", error_id="20413,x"
    )
    session = _session(Runner(missing, refused))
    with pytest.raises(NotFoundError, match="does not exist"):
        session.vmm(SITE, "vmm_networks", {})
    with pytest.raises(ScriptError) as error:
        session.vmm(SITE, "vmm_networks", {})
    assert not isinstance(error.value, NotFoundError) and error.value.code == "20413"


# --- VMM jobs -------------------------------------------------------------------------------------------------------


def _job(status: str, progress: str = "", error: dict[str, str] | None = None) -> dict[str, Any]:
    return {"ID": "j1", "Name": "Create logical network", "Status": status, "Progress": progress, "ErrorInfo": error}


def test_a_job_is_polled_until_done_reporting_each_new_state_once() -> None:
    clock = Clock()
    runner = Runner(
        [_job("Running", "10 %")], [_job("Running", "10 %")], [_job("Running", "60 %")], [_job("Completed", "100 %")]
    )
    lines: list[str] = []
    Jobs(_session(runner, clock), clock=clock, sleep=clock.sleep).wait(SITE, ["j1", "", "j1"], "create X", lines.append)
    assert [r[2] for r in runner.runs] == [{"ids": ["j1"]}] * 4
    assert lines == [
        "create X: VMM job Create logical network: Running (10 %)",
        "create X: VMM job Create logical network: Running (60 %)",
        "create X: VMM job Create logical network: Completed (100 %)",
    ]


def test_a_failed_job_is_its_error_info() -> None:
    error = {"Code": "13661", "Problem": "The subnet overlaps.", "RecommendedAction": "Remove the overlap."}
    runner = Runner([_job("Failed", error=error)])
    with pytest.raises(PermanentError) as failed:
        Jobs(_session(runner)).wait(SITE, ["j1"], "create X", lambda _line: None)
    assert failed.value.code == "13661"
    assert str(failed.value) == (
        "create X: VMM job Create logical network failed: 13661: The subnet overlaps. "
        "(recommended: Remove the overlap.)"
    )


def test_a_job_past_the_timeout_fails_the_step_saying_it_may_still_finish() -> None:
    clock = Clock()
    session = Session(
        _settings(RECONCILER_JOB_TIMEOUT_S="3"), WinRMContext(), Runner(*[[_job("Running")]] * 10), clock=clock
    )
    with pytest.raises(PermanentError, match=r"did not finish within 3s .*it may still finish") as late:
        Jobs(session, clock=clock, sleep=clock.sleep).wait(SITE, ["j1"], "create X", lambda _line: None)
    assert late.value.code == "JobTimeout"


# --- what Set-SCVirtualMachine gets -------------------------------------------------------------------------------


def test_memory_changes_send_only_what_changes_and_leave_startup_above_minimum_to_wmi() -> None:
    report_max = typed.VmMemory(dynamic=True, startup=2048, minimum=512, maximum=2048, bufferPercent=20, priority=50)
    assert vmm_settings(report_max, frozenset({"startup"})) == ({}, True)
    assert vmm_settings(report_max, frozenset({"bufferPercent", "priority"})) == (
        {"bufferPercent": 20, "weight": 5000},
        False,
    )
    # Turning dynamic memory on with startup above minimum: VMM gets startup = minimum, WMI raises the startup.
    assert vmm_settings(report_max, frozenset({"dynamic", "startup"})) == (
        {"dynamic": True, "minimumMB": 512, "maximumMB": 2048, "startupMB": 512},
        True,
    )
    plain = typed.VmMemory(dynamic=True, startup=1024, minimum=1024, maximum=4096, bufferPercent=20, priority=50)
    assert vmm_settings(plain, frozenset({"startup", "minimum", "maximum"})) == (
        {"startupMB": 1024, "minimumMB": 1024, "maximumMB": 4096},
        False,
    )
    static = typed.VmMemory(dynamic=False, startup=4096, minimum=4096, maximum=4096, bufferPercent=20, priority=50)
    assert vmm_settings(static, frozenset({"dynamic", "startup", "minimum"})) == (
        {"dynamic": False, "startupMB": 4096},
        False,
    )


# --- the provider-wide settings -----------------------------------------------------------------------------------


def test_the_provider_wide_waits_have_defaults_and_refuse_an_endpoint_suffix() -> None:
    defaults = _settings()
    assert (defaults.poll_interval_s, defaults.restart_timeout_s, defaults.job_timeout_s) == (10.0, 1800.0, 1800.0)
    tuned = _settings(
        RECONCILER_WINRM_POLL_INTERVAL_S="0", RECONCILER_WINRM_RESTART_TIMEOUT_S="900", RECONCILER_JOB_TIMEOUT_S="60"
    )
    assert (tuned.poll_interval_s, tuned.restart_timeout_s, tuned.job_timeout_s) == (0.0, 900.0, 60.0)
    with pytest.raises(SettingsError, match=r"RECONCILER_WINRM_POLL_INTERVAL_S='soon': seconds, at least 0"):
        _settings(RECONCILER_WINRM_POLL_INTERVAL_S="soon")
    with pytest.raises(SettingsError, match=r"RECONCILER_WINRM_RESTART_TIMEOUT_S__HV01: .* applies to every endpoint"):
        _settings(RECONCILER_WINRM_RESTART_TIMEOUT_S__HV01="60")


def test_the_specs_transport_and_port_count_only_when_written() -> None:
    settings = _settings()
    session = _session(Runner())
    assert session.vmm_endpoint(SITE).url == "https://VMM01.contoso.int:5986/wsman"
    lab = SiteRef("lab", "VMM02.lab.int", "http", 15985)
    assert Session(settings, WinRMContext(), Runner()).vmm_endpoint(lab).url == "http://VMM02.lab.int:15985/wsman"
