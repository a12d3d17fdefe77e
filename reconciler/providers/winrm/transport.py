"""Run a shipped PowerShell script on a VMM server or Hyper-V host over WinRM: the provider's one door out.

``Runner.run(endpoint, script, data)`` borrows a WinRS shell of the endpoint (``shells``), starts the
constant bootstrap command, sends the prelude, the script and the data argument on stdin, reads the output
in as many Receive rounds as it takes, and returns the script's :class:`~contract.ScriptResult`. Everything
that goes wrong leaves as a ``core.errors`` error (``errors``), redacted. One runner serves a whole run:
``close()`` deletes its shells.

Why stdin and not ``-EncodedCommand <script>``: cmd.exe takes 8,191 characters, which the UTF-16 and base64
of -EncodedCommand exhaust at about 3,000 characters of script (pywinrm's ``run_ps``, its issue #184).
Why WinRS shells and not PSRP runspaces: see docs/winrm.md.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from xml.sax.saxutils import unescape

from winrm import exceptions as winrm_errors

from reconciler.core.errors import PermanentError, ReconcilerError, TemporaryError
from reconciler.core.redact import Redactor, secret_env_values
from reconciler.providers.winrm import contract, errors
from reconciler.providers.winrm.scripts import Script, load
from reconciler.providers.winrm.settings import PREFIX, EndpointSettings, WinRMSettings
from reconciler.providers.winrm.shells import PoolStats, Shell, ShellPool, open_protocol

log = logging.getLogger(__name__)

STDIN_CHUNK = 96 * 1024  # bytes per Send: base64 in a SOAP envelope stays under WinRM's 150 KB default
_OUTPUT_ENCODING = "utf-8"  # the shells' codepage is 65001


class Runner:
    """Runs scripts against WinRM endpoints with pooled shells. Thread-safe."""

    def __init__(
        self,
        settings: WinRMSettings,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        protocol_factory: Callable[[EndpointSettings], Any] = open_protocol,
    ) -> None:
        """``environ`` supplies the credential variables to mask (default ``os.environ``); ``clock`` times
        the command timeout; ``protocol_factory`` makes a pywinrm Protocol for an endpoint."""
        self.settings = settings
        self._env_secrets = secret_env_values(os.environ if environ is None else environ)
        self._clock = clock
        self._factory = protocol_factory
        self._pools: dict[EndpointSettings, ShellPool] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def endpoint(self, endpoint: str | EndpointSettings) -> EndpointSettings:
        return endpoint if isinstance(endpoint, EndpointSettings) else self.settings.endpoint(endpoint)

    def run(
        self, endpoint: str | EndpointSettings, script: str | Script, data: Mapping[str, Any] | None = None
    ) -> contract.ScriptResult:
        """Run ``script`` (a shipped script's name, or a Script) on ``endpoint`` (a host name, resolved
        through the settings, or resolved settings) with ``data`` as its one argument (``$Data``).

        Raises ScriptError (a PermanentError) when the script stops on a PowerShell error, TemporaryError
        when the endpoint could not be reached or did not answer in time, PermanentError otherwise."""
        target = self.endpoint(endpoint)
        body = load(script) if isinstance(script, str) else script
        redact = Redactor(self._env_secrets | self.settings.secrets() | target.secrets() | errors.data_secrets(data))
        doing = f"run {body.name}"
        try:
            call = contract.invocation(body, data, nonce=contract.new_nonce())
        except contract.DataError as exc:
            raise PermanentError(redact.text(f"{target.host}: {doing}: {exc}"), code="InvalidData") from None
        pool = self._pool(target)
        started = self._clock()
        try:
            stdout, stderr, exit_code = self._execute(pool, call, target)
        except ReconcilerError:
            raise  # already ours (the command timeout)
        except Exception as exc:
            raise errors.translate(exc, endpoint=target, doing=doing, redact=redact) from exc
        log.debug(
            "winrm.run endpoint=%s script=%s exit=%s out=%dB err=%dB duration=%.3fs",
            target.host,
            body.name,
            exit_code,
            len(stdout),
            len(stderr),
            self._clock() - started,
        )
        return self._outcome(stdout, stderr, exit_code, call=call, target=target, script=body, redact=redact)

    def stats(self, endpoint: str | EndpointSettings) -> PoolStats:
        """The shell pool of ``endpoint``: open, busy, waiting, opened so far."""
        target = self.endpoint(endpoint)
        with self._lock:
            pool = self._pools.get(target)
        return pool.stats() if pool is not None else PoolStats(0, 0, 0, 0)

    def close(self) -> None:
        """Delete every shell this runner opened."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

    # -------------------------------------------------------------------------------------------------- internals

    def _pool(self, target: EndpointSettings) -> ShellPool:
        with self._lock:
            pool = self._pools.get(target)
            if pool is None:
                pool = self._pools[target] = ShellPool(target, factory=self._factory)
                for warning in target.warnings():
                    log.warning(warning)
        return pool

    def _execute(self, pool: ShellPool, call: contract.Invocation, target: EndpointSettings) -> tuple[str, str, int]:
        """Start the command on a borrowed shell and collect its output. A reused shell that refuses the
        command (deleted by the server after its idle timeout) is dropped and the command tried once on a
        new shell: it had not started."""
        for attempt in (1, 2):
            try:
                with pool.shell() as shell:
                    reused = shell.commands > 0
                    try:
                        command_id = shell.protocol.run_command(
                            shell.shell_id,
                            call.command,
                            list(call.arguments),
                            console_mode_stdin=False,  # stdin is a pipe the bootstrap reads
                            skip_cmd_shell=False,
                        )
                    except (winrm_errors.WSManFaultError, winrm_errors.WinRMTransportError) as exc:
                        if reused and attempt == 1:
                            raise _Retry from exc
                        raise
                    shell.commands += 1
                    return self._collect(shell, command_id, call, target)
            except _Retry:
                log.debug("a reused WinRS shell on %s refused a command; trying a new one", target.host)
        raise AssertionError("unreachable: the second attempt uses a new shell")

    def _collect(
        self, shell: Shell, command_id: str, call: contract.Invocation, target: EndpointSettings
    ) -> tuple[str, str, int]:
        protocol = shell.protocol
        stdin = call.stdin
        for start in range(0, len(stdin), STDIN_CHUNK):
            chunk = stdin[start : start + STDIN_CHUNK]
            protocol.send_command_input(shell.shell_id, command_id, chunk, end=start + STDIN_CHUNK >= len(stdin))
        deadline = self._clock() + target.command_timeout_s
        out: list[bytes] = []
        err: list[bytes] = []
        while True:
            if self._clock() > deadline:
                self._stop(shell, command_id)
                raise TemporaryError(
                    f"{target.host}: the script did not finish within {target.command_timeout_s:g} s "
                    f"({PREFIX}_COMMAND_TIMEOUT_S) and was stopped; what it changed so far stays"
                )
            try:
                stdout, stderr, exit_code, done = protocol.get_command_output_raw(shell.shell_id, command_id)
            except winrm_errors.WinRMOperationTimeoutError:
                continue  # no output within the operation timeout: the command still runs
            out.append(stdout)
            err.append(stderr)
            if done:
                break
        protocol.cleanup_command(shell.shell_id, command_id)
        return (
            b"".join(out).decode(_OUTPUT_ENCODING, errors="replace"),
            b"".join(err).decode(_OUTPUT_ENCODING, errors="replace"),
            exit_code,
        )

    def _stop(self, shell: Shell, command_id: str) -> None:
        try:
            shell.protocol.cleanup_command(shell.shell_id, command_id)
        except Exception as exc:  # the shell is dropped anyway (the caller raises)
            log.debug("stopping command %s failed: %s", command_id, type(exc).__name__)

    def _outcome(
        self,
        stdout: str,
        stderr: str,
        exit_code: int,
        *,
        call: contract.Invocation,
        target: EndpointSettings,
        script: Script,
        redact: Redactor,
    ) -> contract.ScriptResult:
        where = f"{target.host}: {script.name}"
        try:
            parsed = contract.parse_output(stdout, call.nonce)
        except ValueError as exc:
            raise PermanentError(redact.text(f"{where}: unreadable output: {exc}"), code="BadOutput") from None
        if isinstance(parsed, contract.ErrorRecord):
            raise errors.script_error(parsed, endpoint=target.host, script=script.name, redact=redact)
        if parsed is None:
            detail = _clean_stderr(stderr) or _tail(stdout) or "no output"
            raise PermanentError(
                redact.text(f"{where}: PowerShell exited with {exit_code} before the script reported: {detail}"),
                code="NoResult",
            )
        for warning in parsed.warnings:
            log.warning("%s: %s", where, redact.text(warning))
        return parsed


class _Retry(Exception):
    """Internal: the command should be tried again on a new shell."""


def _clean_stderr(stderr: str) -> str:
    """stderr without PowerShell's CLIXML wrapping: the messages of its ``<S S="Error">`` lines."""
    if "#< CLIXML" in stderr:
        parts = re.findall(r'<S S="Error">(.*?)</S>', stderr, re.DOTALL)
        text = "".join(unescape(p).replace("_x000D__x000A_", " ") for p in parts)
    else:
        text = stderr
    return " ".join(text.split())[:500]


def _tail(stdout: str) -> str:
    return " ".join(stdout.split())[-300:]
