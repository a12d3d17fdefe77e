"""The WinRM Runner against a local WS-Management endpoint with the real pywinrm: authentication, the
script-running contract (stdin, markers, data as data), shell reuse and limits, and the error boundary."""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.errors import PermanentError, TemporaryError
from reconciler.providers.winrm.credentials import SettingsError
from reconciler.providers.winrm.errors import ScriptError
from reconciler.providers.winrm.scripts import Script
from reconciler.providers.winrm.settings import WinRMSettings
from reconciler.providers.winrm.transport import Runner
from tests import winrm_powershell as ps
from tests.winrm_endpoint import Failure, WinRMEndpoint

HOST = "127.0.0.1"
HOSTILE = [
    'it\'s "quoted"',
    "a; Remove-Item C:\\ -Recurse",
    "$(Stop-Computer -Force)",
    "`$env:PATH` and ``double``",
    "line one\nline two\r\n# comment",
    "'; exit 1; '",
    "@' here-string '@",
    "<#block comment#>",
]


def _runner(endpoint: WinRMEndpoint, *, user: str = "reconciler", auth: str = "basic", **extra: str) -> Runner:
    env = endpoint.environment(user=user, auth=auth) | extra
    settings = WinRMSettings.from_env(env)
    assert settings is not None
    return Runner(settings, environ=env)


@pytest.fixture
def runner(winrm_endpoint: WinRMEndpoint) -> Iterator[Runner]:
    with _runner(winrm_endpoint) as runner:
        yield runner


def _echo(script: str, data: Any) -> ps.Reply:
    return ps.result({"script": script, "data": data})


@pytest.mark.parametrize(
    ("auth", "user"),
    [("basic", "reconciler"), ("ntlm", "reconciler"), ("ntlm", "CONTOSO\\svc-vmm"), ("credssp", "CONTOSO\\svc-vmm")],
)
def test_runs_a_shipped_script_with_basic_ntlm_and_credssp(winrm_endpoint: WinRMEndpoint, auth: str, user: str) -> None:
    winrm_endpoint.auth = frozenset({auth})  # the endpoint accepts only this method
    winrm_endpoint.handler = lambda script, data: ps.result(
        {"computerName": "VMM01", "powershellVersion": "5.1.17763.1", "vmmModule": True}
    )
    with _runner(winrm_endpoint, user=user, auth=auth) as runner:
        first = runner.run(HOST, "server_info")
        runner.run(HOST, "server_info")
    assert first.output == ({"computerName": "VMM01", "powershellVersion": "5.1.17763.1", "vmmModule": True},)
    call = winrm_endpoint.calls[-1]
    assert call.script == "server_info" and call.data == {}
    assert call.user.casefold().endswith(user.rsplit("\\", 1)[-1].casefold())
    assert call.codepage == 65001
    if auth != "basic":  # NTLM and CredSSP authenticate the connection once; Basic authenticates every request
        assert winrm_endpoint.stats.authentications == 1


@pytest.mark.parametrize("auth", ["basic", "ntlm", "credssp"])
def test_a_wrong_password_is_one_clear_permanent_error(winrm_endpoint: WinRMEndpoint, auth: str) -> None:
    winrm_endpoint.auth = frozenset({auth})
    wrong = secrets.token_urlsafe(12)
    env = winrm_endpoint.environment(user="reconciler", auth=auth) | {"RECONCILER_WINRM_PASSWORD": wrong}
    settings = WinRMSettings.from_env(env)
    assert settings is not None
    with Runner(settings, environ=env) as runner, pytest.raises(PermanentError) as caught:
        runner.run(HOST, "server_info")
    message = str(caught.value)
    assert not isinstance(caught.value, TemporaryError)
    assert caught.value.code == "Unauthorized"
    assert message.startswith(f"{HOST}: the WinRM endpoint https://{HOST}:{winrm_endpoint.port}/wsman refused")
    assert "RECONCILER_WINRM_USER and RECONCILER_WINRM_PASSWORD" in message
    assert wrong not in message and wrong not in repr(caught.value.args)
    assert winrm_endpoint.calls == []


def test_output_in_chunks_with_operation_timeouts_between_them(winrm_endpoint: WinRMEndpoint, runner: Runner) -> None:
    objects = [{"name": f"LN{i:03}", "subnets": [f"10.{i}.0.0/24"], "notes": "x" * 40} for i in range(60)]
    winrm_endpoint.handler = lambda script, data: ps.result(*objects, noise="WARNING: banner\r\n" * 20)
    winrm_endpoint.chunk_size = 256
    winrm_endpoint.timeouts_between_chunks = 2
    result = runner.run(HOST, "server_info")
    assert list(result.output) == objects
    stats = winrm_endpoint.stats
    chunks = stats.receives - stats.timeout_faults
    assert chunks > 10
    assert stats.timeout_faults == 2 * (chunks - 1)


def test_a_script_longer_than_the_command_line_limit_runs(winrm_endpoint: WinRMEndpoint, runner: Runner) -> None:
    body = "param($Data)\n" + "".join(f"$step{i} = 'configure item {i} of the long script'\n" for i in range(400))
    assert len(body) > 2 * 8191
    data = {"vms": [f"VM{i:05}-" + "x" * 60 for i in range(4000)]}  # stdin needs several Send messages
    winrm_endpoint.handler = _echo
    result = runner.run(HOST, Script("long", body), data)
    assert result.output == ({"script": body, "data": data},)
    assert len(winrm_endpoint.calls[-1].command_line) < 8191
    assert winrm_endpoint.stats.sends > 2


def test_non_ascii_names_survive_the_round_trip(winrm_endpoint: WinRMEndpoint, runner: Runner) -> None:
    names = ["Réseau-Ost", "東京-VMs", "Ünïcode 😀", "Ελληνικά"]
    winrm_endpoint.handler = _echo
    assert runner.run(HOST, "server_info", {"names": names}).output[0]["data"] == {"names": names}

    # The shell is opened with codepage 65001, so even output the prelude did not ASCII-escape survives.
    raw = json.dumps({"output": names, "warnings": []}, ensure_ascii=False)
    winrm_endpoint.handler = lambda script, data: (
        f"--reconciler-result-{ps.NONCE}--{raw}--end-reconciler-result-{ps.NONCE}--",
        "",
        0,
    )
    assert list(runner.run(HOST, "server_info").output) == names


def test_hostile_values_arrive_as_data_and_never_in_script_text(winrm_endpoint: WinRMEndpoint, runner: Runner) -> None:
    winrm_endpoint.handler = _echo
    data = {"names": HOSTILE, "nested": {value: value for value in HOSTILE}}
    result = runner.run(HOST, "server_info", data)
    assert result.output == ({"script": "server_info", "data": data},)
    call = winrm_endpoint.calls[-1]
    assert call.data == data
    assert len(call.texts) == 3  # the bootstrap, the prelude, the body: all shipped text
    for value in HOSTILE:
        for text in (*call.texts, call.command_line):
            assert value not in text


def test_a_nul_character_is_refused_before_anything_is_sent(winrm_endpoint: WinRMEndpoint, runner: Runner) -> None:
    with pytest.raises(PermanentError, match=r"data\.names\[1\]: a NUL character") as caught:
        runner.run(HOST, "server_info", {"names": ["ok", "bad\x00name"]})
    assert caught.value.code == "InvalidData"
    assert winrm_endpoint.stats.commands == 0


def test_a_powershell_error_is_a_permanent_error_with_the_cmdlet_and_message(
    winrm_endpoint: WinRMEndpoint, runner: Runner
) -> None:
    winrm_endpoint.handler = lambda script, data: ps.error(
        "Unable to find the specified logical network Provider Address.",
        cmdlet="Get-SCLogicalNetwork",
        category="ObjectNotFound",
        target="Provider Address",
        error_id="801,Microsoft.SystemCenter.VirtualMachineManager.Cmdlets.GetSCLogicalNetworkCmdlet",
        noise="VERBOSE: connecting to VMM01\r\n",
    )
    with pytest.raises(ScriptError) as caught:
        runner.run(HOST, "server_info")
    error = caught.value
    assert isinstance(error, PermanentError) and not isinstance(error, TemporaryError)
    assert str(error).startswith(
        f"{HOST}: server_info: Get-SCLogicalNetwork: Unable to find the specified logical network Provider Address. "
        "(ObjectNotFound, target 'Provider Address', id 801,"
    )
    assert error.code == "801"
    assert error.record.category == "ObjectNotFound" and error.record.cmdlet == "Get-SCLogicalNetwork"
    # the shell stays usable: a script error is the script's, not the connection's
    winrm_endpoint.handler = _echo
    runner.run(HOST, "server_info")
    assert winrm_endpoint.stats.shells_created == 1


def test_markers_without_the_runs_nonce_are_ignored(winrm_endpoint: WinRMEndpoint, runner: Runner) -> None:
    forged = '--reconciler-result-0000--{"output":["forged"],"warnings":[]}--end-reconciler-result-0000--'

    def handler(script: str, data: Any) -> ps.Reply:
        stdout, stderr, code = ps.result("genuine")
        return forged + stdout + forged, stderr, code

    winrm_endpoint.handler = handler
    assert runner.run(HOST, "server_info").output == ("genuine",)


def test_powershell_failing_before_the_prelude_reports(winrm_endpoint: WinRMEndpoint, runner: Runner) -> None:
    clixml = (
        '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        "<S S=\"Error\">The term 'Get-Thing' is not recognized._x000D__x000A_</S></Objs>"
    )
    winrm_endpoint.handler = lambda script, data: ("Windows PowerShell\r\n", clixml, 1)
    with pytest.raises(PermanentError, match="PowerShell exited with 1 before the script reported: The term") as caught:
        runner.run(HOST, "server_info")
    assert caught.value.code == "NoResult"


@pytest.mark.parametrize(
    ("action", "failure"),
    [
        ("Command", Failure.server_error),
        ("Receive", Failure.server_error),
        ("Create", Failure.unavailable),
        ("Command", Failure.drop),
        ("Receive", Failure.drop),
    ],
)
def test_faults_and_dropped_connections_are_temporary(
    winrm_endpoint: WinRMEndpoint, runner: Runner, action: str, failure: Failure
) -> None:
    winrm_endpoint.handler = _echo
    winrm_endpoint.inject(action, failure)
    with pytest.raises(TemporaryError) as caught:
        runner.run(HOST, "server_info")
    assert str(caught.value).startswith(f"{HOST}: run server_info: ")
    assert runner.stats(HOST).open == 0
    # the broken shell was dropped: the next run opens a new one and succeeds
    assert runner.run(HOST, "server_info").output[0]["script"] == "server_info"


def test_access_denied_is_permanent(winrm_endpoint: WinRMEndpoint, runner: Runner) -> None:
    winrm_endpoint.inject("Create", Failure.access_denied)
    with pytest.raises(PermanentError, match="access denied by WinRM") as caught:
        runner.run(HOST, "server_info")
    assert caught.value.code == "AccessDenied" and not isinstance(caught.value, TemporaryError)


def test_one_shell_per_endpoint_reused_by_every_run(winrm_endpoint: WinRMEndpoint) -> None:
    winrm_endpoint.handler = _echo
    hosts = ("127.0.0.1", "localhost")  # two names for the endpoint: two endpoints to the runner
    env = winrm_endpoint.environment(user="reconciler", host=hosts[0]) | winrm_endpoint.environment(
        user="reconciler", host=hosts[1]
    )
    settings = WinRMSettings.from_env(env)
    assert settings is not None
    with Runner(settings, environ=env) as runner:
        for _ in range(5):
            for host in hosts:
                runner.run(host, "server_info")
        stats = winrm_endpoint.stats
        assert (stats.commands, stats.shells_created, stats.connections) == (10, 2, 2)
        assert {call.host.rsplit(":", 1)[0] for call in winrm_endpoint.calls} == set(hosts)
        assert winrm_endpoint.open_shells == 2
    assert winrm_endpoint.open_shells == 0 and stats.shells_deleted == 2


def test_a_shell_the_server_deleted_is_replaced(winrm_endpoint: WinRMEndpoint, runner: Runner) -> None:
    winrm_endpoint.handler = _echo
    runner.run(HOST, "server_info")
    winrm_endpoint.forget_shells()  # WinRM's idle timeout
    assert runner.run(HOST, "server_info").output[0]["script"] == "server_info"
    assert winrm_endpoint.stats.shells_created == 2


def test_the_concurrency_limit_holds(winrm_endpoint: WinRMEndpoint) -> None:
    gate = threading.Event()

    def handler(script: str, data: Any) -> ps.Reply:
        assert gate.wait(timeout=30)
        return _echo(script, data)

    winrm_endpoint.handler = handler
    results: list[Any] = []
    with _runner(winrm_endpoint, RECONCILER_WINRM_CONCURRENCY="2") as runner:
        threads = [
            threading.Thread(target=lambda i=i: results.append(runner.run(HOST, "server_info", {"i": i})))
            for i in range(5)
        ]
        for thread in threads:
            thread.start()
        assert _wait_until(lambda: runner.stats(HOST).waiting == 3 and winrm_endpoint.running == 2)
        assert runner.stats(HOST).open == 2
        gate.set()
        for thread in threads:
            thread.join(timeout=30)
        assert len(results) == 5
    assert winrm_endpoint.stats.max_running == 2
    assert winrm_endpoint.stats.shells_created == 2


def _wait_until(condition: Any) -> bool:
    """Poll ``condition`` for at most 20 s (a bounded wait for other threads, not a timing assumption)."""
    tick = threading.Event()  # never set: its wait is the poll interval
    for _ in range(2000):
        if condition():
            return True
        tick.wait(timeout=0.01)
    return bool(condition())


def test_a_script_past_the_command_timeout_is_stopped(winrm_endpoint: WinRMEndpoint) -> None:
    now = [0.0]
    env = winrm_endpoint.environment(user="reconciler") | {"RECONCILER_WINRM_COMMAND_TIMEOUT_S": "60"}
    settings = WinRMSettings.from_env(env)
    assert settings is not None

    def slow(script: str, data: Any) -> ps.Reply:
        now[0] += 61  # the script takes longer than allowed
        return ps.result(*range(100))

    winrm_endpoint.handler = slow
    winrm_endpoint.chunk_size = 64
    with Runner(settings, environ=env, clock=lambda: now[0]) as runner:
        with pytest.raises(TemporaryError, match=r"did not finish within 60 s \(RECONCILER_WINRM_COMMAND_TIMEOUT_S\)"):
            runner.run(HOST, "server_info")
        assert winrm_endpoint.stats.signals == 1


def test_secrets_never_reach_errors_or_logs(
    winrm_endpoint: WinRMEndpoint, runner: Runner, caplog: pytest.LogCaptureFixture
) -> None:
    run_as = secrets.token_urlsafe(16)
    password = winrm_endpoint.users["reconciler"]

    def leaky(script: str, data: Any) -> ps.Reply:
        secret = data["runAs"]["password"]
        return ps.error(
            f"New-SCRunAsAccount: bad credential {secret} (connected with {password})", cmdlet="New-SCRunAsAccount"
        )

    winrm_endpoint.handler = lambda script, data: ps.result(
        "ok", warnings=[f"password {password} and {data['runAs']['password']}"]
    )
    with caplog.at_level(logging.DEBUG):
        runner.run(HOST, "server_info", {"runAs": {"name": "svc", "password": run_as}})
    winrm_endpoint.handler = leaky
    with pytest.raises(ScriptError) as caught:
        runner.run(HOST, "server_info", {"runAs": {"name": "svc", "password": run_as}})
    for text in (str(caught.value), repr(caught.value.record), caplog.text):
        assert run_as not in text and password not in text
    assert "***" in str(caught.value) and "***" in caplog.text


def test_certificates_are_validated_unless_validation_is_turned_off(
    winrm_endpoint: WinRMEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    winrm_endpoint.handler = _echo
    env = winrm_endpoint.environment(user="reconciler")
    del env["RECONCILER_WINRM_CA_BUNDLE"]  # the throwaway CA is in no trust store
    settings = WinRMSettings.from_env(env)
    assert settings is not None
    with Runner(settings, environ=env) as runner, pytest.raises(PermanentError, match="TLS handshake") as caught:
        runner.run(HOST, "server_info")
    assert caught.value.code == "Certificate" and "RECONCILER_WINRM_CA_BUNDLE" in str(caught.value)
    insecure = WinRMSettings.from_env(env | {"RECONCILER_WINRM_CERT_VALIDATION": "off"})
    assert insecure is not None
    with Runner(insecure, environ=env) as runner, caplog.at_level(logging.WARNING):
        assert runner.run(HOST, "server_info").output
    assert "certificate validation is OFF" in caplog.text


def test_plain_http_and_basic_only_when_both_are_asked_for(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with WinRMEndpoint(tmp_path / "http", https=False) as endpoint:
        endpoint.add_user("reconciler")
        endpoint.handler = _echo
        env = endpoint.environment(user="reconciler")  # RECONCILER_WINRM_TRANSPORT__127_0_0_1=http
        with pytest.raises(SettingsError, match="basic authentication over http"):
            WinRMSettings.from_env(env)
        env["RECONCILER_WINRM_ALLOW_BASIC_OVER_HTTP"] = "yes"
        settings = WinRMSettings.from_env(env)
        assert settings is not None
        with Runner(settings, environ=env) as runner, caplog.at_level(logging.WARNING):
            assert runner.run(HOST, "server_info").output[0]["script"] == "server_info"
        assert f"http://{HOST}:{endpoint.port}/wsman" == settings.endpoint(HOST).url
        assert "sends the password in clear text" in caplog.text
