"""The test endpoint copies what every WinRS client meets on Windows, checked with pywinrm's own plain
``Session`` (not the provider's runner): a long ``run_ps`` fails with "The command line is too long.", a
shell left at codepage 437 turns non-ASCII into '?', and ``powershell -Command -`` reads its script from stdin."""

from __future__ import annotations

from typing import Any

import winrm

from tests import winrm_powershell as ps
from tests.winrm_endpoint import WinRMEndpoint


def _session(endpoint: WinRMEndpoint) -> winrm.Session:
    return winrm.Session(
        f"https://127.0.0.1:{endpoint.port}/wsman",
        auth=("reconciler", endpoint.users["reconciler"]),
        transport="basic",
        server_cert_validation="validate",
        ca_trust_path=endpoint.ca_path,
    )


def test_run_ps_fails_past_cmd_exe_line_limit(winrm_endpoint: WinRMEndpoint) -> None:
    seen: list[str] = []

    def handler(script: str, data: Any) -> ps.Reply:
        seen.append(script)
        return "done\r\n", "", 0

    winrm_endpoint.handler = handler
    short = _session(winrm_endpoint).run_ps("Get-Date")
    assert (short.status_code, short.std_out) == (0, b"done\r\n")
    assert seen == ["Get-Date"]
    long = _session(winrm_endpoint).run_ps("# " + "x" * 3100)  # UTF-16 then base64: over 8,191 characters
    assert (long.status_code, long.std_err) == (1, b"The command line is too long.\r\n")
    assert seen == ["Get-Date"]  # PowerShell never started


def test_a_shell_at_codepage_437_loses_non_ascii(winrm_endpoint: WinRMEndpoint) -> None:
    winrm_endpoint.handler = lambda script, data: ("東京 Réseau\r\n", "", 0)
    response = _session(winrm_endpoint).run_ps("Get-SCVMNetwork")  # pywinrm opens shells with 437
    assert response.std_out.decode("cp437") == "?? Réseau\r\n"
    assert winrm_endpoint.calls[-1].codepage == 437


def test_powershell_reads_its_script_from_stdin_with_command_dash(winrm_endpoint: WinRMEndpoint) -> None:
    seen: list[tuple[str, Any]] = []

    def handler(script: str, data: Any) -> ps.Reply:
        seen.append((script, data))
        return "ok", "", 0

    winrm_endpoint.handler = handler
    protocol = _session(winrm_endpoint).protocol
    shell = protocol.open_shell(codepage=65001)
    command = protocol.run_command(shell, "powershell -NoProfile -NonInteractive -Command -", console_mode_stdin=False)
    protocol.send_command_input(shell, command, b"Get-VM |\r\n", end=False)
    protocol.send_command_input(shell, command, b"  Select-Object Name\r\n", end=True)
    assert protocol.get_command_output(shell, command) == (b"ok", b"", 0)
    protocol.cleanup_command(shell, command)
    protocol.close_shell(shell)
    assert seen == [("Get-VM |\r\n  Select-Object Name\r\n", None)]
    assert winrm_endpoint.stats.sends == 2 and winrm_endpoint.open_shells == 0


def test_helpers_write_what_the_prelude_writes() -> None:
    stdout, stderr, code = ps.result({"name": "東京"}, warnings=["w"])
    assert code == 0 and stderr == "" and stdout.isascii()
    assert '"output":[{"name":"\\u6771\\u4eac"}],"warnings":["w"]' in stdout
    assert ps.error("boom", cmdlet="Get-VM", category="ObjectNotFound")[2] == 1
