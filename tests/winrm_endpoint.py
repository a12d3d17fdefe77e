"""A local WS-Management endpoint speaking the WinRS shell protocol that pywinrm 0.5 uses, for tests.

It serves HTTPS on 127.0.0.1 (certificate from a throwaway CA, ``tests/tls.py``), or plain HTTP, at
``/wsman``:

* **Create** a shell (the ``WINRS_CODEPAGE`` option honoured, 437 when absent), **Command** (decoded as
  powershell.exe would, ``tests/winrm_powershell.py``), **Send** (stdin, in as many messages as it takes),
  **Receive** (the output in chunks of ``chunk_size`` bytes, with ``timeouts_between_chunks`` OperationTimeout
  faults between them, which pywinrm retries), **Signal** (terminate) and **Delete**.
* Basic authentication, and real NTLM and CredSSP through pyspnego's acceptors (``NTLM_USER_FILE``;
  connection-based: keep-alive, one context per connection); 401 for bad credentials. Message encryption
  (NTLM over plain http) is not spoken: over http use Basic.
* Windows' limits: a command line over 8,191 characters (cmd.exe) fails with "The command line is too
  long."; output is encoded with the shell's codepage, so 437 turns non-ASCII into '?'.
* Faults on demand (:meth:`WinRMEndpoint.inject`): a SOAP fault as HTTP 500, access denied, a bare 503,
  a dropped connection; :meth:`forget_shells` plays a server that deleted its idle shells.

It never runs PowerShell: the decoded script and data go to ``handler(script, data) -> (stdout, stderr,
exit_code)`` (see ``tests/winrm_powershell.py``); a handler that needs to know which machine it is
(one endpoint can answer for a VMM server and its hosts) reads :meth:`WinRMEndpoint.current_call`. ``stats``
counts shells, commands and round trips so tests can assert connection reuse; ``calls`` records every script
run.
"""

from __future__ import annotations

import base64
import enum
import secrets
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from xml.sax.saxutils import escape

import spnego
import spnego.exceptions

from tests import tls
from tests import winrm_powershell as ps
from tests import winrm_soap as soap


class Failure(enum.StrEnum):
    server_error = "server_error"  # HTTP 500 with a WS-Management fault
    access_denied = "access_denied"  # HTTP 500, WSManFault code 5
    unavailable = "unavailable"  # HTTP 503, no body
    drop = "drop"  # the connection is closed without an answer


@dataclass
class Stats:
    connections: int = 0
    authentications: int = 0  # NTLM handshakes completed, Basic requests accepted
    shells_created: int = 0
    shells_deleted: int = 0
    commands: int = 0
    sends: int = 0
    receives: int = 0
    timeout_faults: int = 0
    signals: int = 0
    max_running: int = 0  # most handlers running at once


@dataclass(frozen=True)
class Call:
    """One script run as the endpoint saw it."""

    user: str
    host: str  # the Host header: which name the client used
    shell_id: str
    codepage: int
    command_line: str
    script: str  # the shipped script's name, or the text
    texts: tuple[str, ...]  # every script text received (bootstrap, prelude, body): what must hold no data
    data: Any
    nonce: str


@dataclass
class _Command:
    command_line: str
    skip_cmd_shell: bool
    decoded: ps.Decoded
    stdin: bytearray = field(default_factory=bytearray)
    stdin_done: bool = False
    chunks: list[tuple[str, bytes]] | None = None  # None until the command ran
    exit_code: int = 0
    pending_timeouts: int = 0


@dataclass
class _Shell:
    shell_id: str
    codepage: int
    user: str
    commands: dict[str, _Command] = field(default_factory=dict)


class WinRMEndpoint:
    """The endpoint; see the module docstring. Use as a context manager, or the ``winrm_endpoint`` fixture."""

    def __init__(
        self,
        tmp_dir: Path,
        *,
        https: bool = True,
        auth: frozenset[str] = frozenset({"basic", "ntlm"}),
        names: tuple[str, ...] = (),
    ):
        """``names``: host names the certificate covers besides 127.0.0.1 and localhost (one endpoint can then
        stand for a VMM server and its hosts: see :meth:`current_call`)."""
        self.handler: ps.Handler = ps.no_handler
        self.chunk_size = 1024
        self.timeouts_between_chunks = 1
        self.auth = auth
        self.users: dict[str, str] = {}  # user name (as the client sends it) -> password, for Basic
        self.stats = Stats()
        self.calls: list[Call] = []
        self.handler_errors: list[BaseException] = []
        self._shells: dict[str, _Shell] = {}
        self._injections: list[tuple[str, Failure]] = []
        self._running = 0
        self._local = threading.local()  # the call the handler of this thread answers
        self._lock = threading.RLock()
        self._ntlm_file: Path | None = None
        self._certs = tls.write_certificates(tmp_dir, label="winrm", names=names) if https else None
        self.ca_path = str(self._certs.ca) if self._certs else ""
        self._server: tls.LocalServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------------ lifecycle

    @property
    def scheme(self) -> str:
        return "https" if self._certs else "http"

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the endpoint first"
        return self._server.port

    def start(self) -> WinRMEndpoint:
        if self._server is None:
            context = self._certs.server_context() if self._certs else None
            self._server = tls.LocalServer(_Handler, context)
            self._server.endpoint = self  # type: ignore[attr-defined]
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="winrm-endpoint", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> WinRMEndpoint:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------------ test knobs

    def add_user(self, name: str, password: str | None = None) -> str:
        """A user (``name`` or ``DOMAIN\\name``) for Basic and NTLM; its password, generated unless given."""
        password = password if password is not None else secrets.token_urlsafe(18)
        with self._lock:
            self.users[name] = password
            if self._ntlm_file is not None:
                self._write_ntlm_users(self._ntlm_file)
        return password

    def ntlm_user_file(self, path: Path) -> Path:
        """Keep the users in ``path`` in pyspnego's ``NTLM_USER_FILE`` format (``DOMAIN:USER:PASSWORD``
        lines): point ``NTLM_USER_FILE`` at it for NTLM. Rewritten by every :meth:`add_user`."""
        with self._lock:
            self._ntlm_file = path
            self._write_ntlm_users(path)
        return path

    def _write_ntlm_users(self, path: Path) -> None:
        lines = []
        for name, password in self.users.items():
            domain, _, user = name.rpartition("\\")
            lines.append(f"{domain}:{user}:{password}")
        path.touch(mode=0o600)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def environment(self, *, user: str, auth: str = "basic", host: str = "127.0.0.1") -> dict[str, str]:
        """RECONCILER_WINRM_* settings that point the runner at this endpoint as ``user``, when it is
        reached as ``host`` (127.0.0.1 or localhost: both are in the certificate)."""
        key = "".join(c if c.isalnum() else "_" for c in host.upper())
        env = {
            "RECONCILER_WINRM": "on",
            "RECONCILER_WINRM_AUTH": auth,
            "RECONCILER_WINRM_USER": user,
            "RECONCILER_WINRM_PASSWORD": self.users[user],
            f"RECONCILER_WINRM_PORT__{key}": str(self.port),
            f"RECONCILER_WINRM_TRANSPORT__{key}": self.scheme,
        }
        if self.ca_path:
            env["RECONCILER_WINRM_CA_BUNDLE"] = self.ca_path
        return env

    def inject(self, action: str, failure: Failure, *, times: int = 1) -> None:
        """Make the next ``times`` requests of ``action`` (Create, Command, Send, Receive, Signal, Delete)
        fail with ``failure``."""
        with self._lock:
            self._injections.extend([(action, failure)] * times)

    def forget_shells(self) -> None:
        """Delete every shell server-side, as WinRM does after a shell's idle timeout."""
        with self._lock:
            self._shells.clear()

    def current_call(self) -> Call:
        """The call the handler running in this thread answers (its ``host``: the name the client used)."""
        call: Call | None = getattr(self._local, "call", None)
        assert call is not None, "current_call() is for handlers, while they answer"
        return call

    @property
    def running(self) -> int:
        """Handlers running now (scripts in flight)."""
        with self._lock:
            return self._running

    @property
    def open_shells(self) -> int:
        with self._lock:
            return len(self._shells)

    # ------------------------------------------------------------------------------------------------ protocol

    def _take_injection(self, action: str) -> Failure | None:
        with self._lock:
            for index, (wanted, failure) in enumerate(self._injections):
                if wanted == action:
                    del self._injections[index]
                    return failure
        return None

    def handle(self, body: bytes, *, user: str, host: str) -> tuple[int, bytes]:
        """One SOAP request: (HTTP status, response envelope)."""
        root = ET.fromstring(body)
        header = root.find("s:Header", soap.NS)
        action_uri = soap.text(header, "a:Action")
        message_id = soap.text(header, "a:MessageID")
        action = soap.ACTIONS.get(action_uri, "")
        try:
            if not action:
                raise soap.Fault(400, f"unsupported action {action_uri}", subcode="a:ActionNotSupported")
            reply = getattr(self, f"_{action.lower()}")(root, user=user, host=host)
            return 200, soap.envelope(f"{action_uri}Response", message_id, reply)
        except soap.Fault as fault:
            return fault.status, soap.fault_envelope(message_id, fault)

    def _shell(self, root: ET.Element) -> _Shell:
        selector = root.find("s:Header/w:SelectorSet/w:Selector[@Name='ShellId']", soap.NS)
        shell_id = selector.text if selector is not None and selector.text else ""
        with self._lock:
            shell = self._shells.get(shell_id)
        if shell is None:
            raise soap.Fault(
                500,
                f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not "
                "found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer "
                "exists on the server.",
                wsman_code=soap.SHELL_NOT_FOUND,
            )
        return shell

    def _create(self, root: ET.Element, *, user: str, host: str) -> str:
        options = soap.options(root)
        codepage = int(options.get("WINRS_CODEPAGE", "437"))
        shell_id = str(uuid.uuid4()).upper()
        with self._lock:
            self._shells[shell_id] = _Shell(shell_id, codepage, user)
            self.stats.shells_created += 1
        address = f"{self.scheme}://{host}/wsman"
        return (
            f'<x:ResourceCreated xmlns:x="{soap.TRANSFER}"><a:Address>{escape(address)}</a:Address>'
            "<a:ReferenceParameters>"
            f"<w:ResourceURI>{soap.SHELL}/cmd</w:ResourceURI><w:SelectorSet>"
            f'<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
            f"</x:ResourceCreated><rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId></rsp:Shell>"
        )

    def _delete(self, root: ET.Element, *, user: str, host: str) -> str:
        shell = self._shell(root)
        with self._lock:
            self._shells.pop(shell.shell_id, None)
            self.stats.shells_deleted += 1
        return ""

    def _command(self, root: ET.Element, *, user: str, host: str) -> str:
        shell = self._shell(root)
        line = root.find("s:Body/rsp:CommandLine", soap.NS)
        command = soap.text(line, "rsp:Command")
        arguments = " ".join(a.text or "" for a in (line.findall("rsp:Arguments", soap.NS) if line is not None else []))
        command_line = f"{command} {arguments}".strip()
        skip_cmd = soap.options(root).get("WINRS_SKIP_CMD_SHELL", "FALSE").upper() == "TRUE"
        command_id = str(uuid.uuid4()).upper()
        state = _Command(command_line, skip_cmd, ps.decode_command_line(command_line))
        limit = ps.CREATE_PROCESS_LIMIT if skip_cmd else ps.CMD_LIMIT
        if len(command_line) > limit:
            self._finish(state, shell, ("", ps.TOO_LONG, 1))
        with self._lock:
            shell.commands[command_id] = state
            self.stats.commands += 1
        return f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"

    def _send(self, root: ET.Element, *, user: str, host: str) -> str:
        shell = self._shell(root)
        stream = root.find("s:Body/rsp:Send/rsp:Stream", soap.NS)
        if stream is None:
            raise soap.Fault(400, "Send without a stream", subcode="w:InvalidParameter")
        state = shell.commands.get(stream.get("CommandId", ""))
        if state is None:
            raise soap.Fault(400, "unknown CommandId", subcode="w:InvalidSelectors")
        with self._lock:
            state.stdin += base64.b64decode(stream.text or "")
            state.stdin_done = state.stdin_done or stream.get("End", "false").lower() == "true"
            self.stats.sends += 1
        return "<rsp:SendResponse/>"

    def _signal(self, root: ET.Element, *, user: str, host: str) -> str:
        shell = self._shell(root)
        signal = root.find("s:Body/rsp:Signal", soap.NS)
        with self._lock:
            shell.commands.pop(signal.get("CommandId", "") if signal is not None else "", None)
            self.stats.signals += 1
        return "<rsp:SignalResponse/>"

    def _receive(self, root: ET.Element, *, user: str, host: str) -> str:
        shell = self._shell(root)
        desired = root.find("s:Body/rsp:Receive/rsp:DesiredStream", soap.NS)
        command_id = desired.get("CommandId", "") if desired is not None else ""
        state = shell.commands.get(command_id)
        if state is None:
            raise soap.Fault(400, "unknown CommandId", subcode="w:InvalidSelectors")
        with self._lock:
            self.stats.receives += 1
        if state.chunks is None:
            if state.decoded.reads_stdin and not state.stdin_done:
                self._timed_out()  # the process is still waiting for its stdin
            self._finish(state, shell, self._run(state, shell, host=host))
        assert state.chunks is not None
        if state.pending_timeouts > 0:
            state.pending_timeouts -= 1
            self._timed_out()
        stream, chunk = state.chunks.pop(0)
        done = not state.chunks
        if not done:
            state.pending_timeouts = self.timeouts_between_chunks
        parts = [
            f'<rsp:Stream Name="{stream}" CommandId="{command_id}">{base64.b64encode(chunk).decode()}</rsp:Stream>'
        ]
        if done:
            parts.append(
                f'<rsp:CommandState CommandId="{command_id}" State="{soap.SHELL}/CommandState/Done">'
                f"<rsp:ExitCode>{state.exit_code}</rsp:ExitCode></rsp:CommandState>"
            )
        else:
            parts.append(f'<rsp:CommandState CommandId="{command_id}" State="{soap.SHELL}/CommandState/Running"/>')
        return f"<rsp:ReceiveResponse>{''.join(parts)}</rsp:ReceiveResponse>"

    def _timed_out(self) -> None:
        with self._lock:
            self.stats.timeout_faults += 1
        raise soap.Fault(
            500,
            "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.",
            wsman_code=soap.TIMED_OUT,
            subcode="w:TimedOut",
        )

    def _run(self, state: _Command, shell: _Shell, *, host: str) -> ps.Reply:
        """Run the command: hand the script and its data to the handler."""
        decoded = state.decoded
        nonce = ""
        data: Any = None
        texts = [decoded.script] if decoded.script else []
        if decoded.bootstrap:
            payload = ps.unpack_payload(bytes(state.stdin))
            script, data, nonce = ps.script_name(payload.body), payload.data, payload.nonce
            texts += [payload.prelude, payload.body]
        elif decoded.script is None:  # -Command -: the script is stdin
            script = ps.decode_input(bytes(state.stdin), shell.codepage)
            texts.append(script)
        else:
            script = decoded.script
        call = Call(
            shell.user, host, shell.shell_id, shell.codepage, state.command_line, script, tuple(texts), data, nonce
        )
        with self._lock:
            self.calls.append(call)
            self._running += 1
            self.stats.max_running = max(self.stats.max_running, self._running)
        self._local.call = call
        try:
            stdout, stderr, exit_code = self.handler(script, data)
        except Exception as exc:  # a broken handler fails its test at teardown, not silently
            with self._lock:
                self.handler_errors.append(exc)
            stdout, stderr, exit_code = "", f"handler failed: {exc!r}\r\n", 1
        finally:
            self._local.call = None
            with self._lock:
                self._running -= 1
        return stdout.replace(ps.NONCE, nonce), stderr, exit_code

    def _finish(self, state: _Command, shell: _Shell, reply: ps.Reply) -> None:
        stdout, stderr, exit_code = reply
        out, err = ps.encode_output(stdout, shell.codepage), ps.encode_output(stderr, shell.codepage)
        size = max(1, self.chunk_size)
        chunks = [("stdout", out[i : i + size]) for i in range(0, len(out), size)]
        chunks += [("stderr", err[i : i + size]) for i in range(0, len(err), size)]
        state.chunks = chunks or [("stdout", b"")]
        state.exit_code = exit_code


# ---------------------------------------------------------------------------------------------------- HTTP side


class _Handler(tls.LocalHandler):
    """One connection: its NTLM context and the user it authenticated."""

    server: tls.LocalServer

    def setup(self) -> None:
        super().setup()
        self._context: Any = None
        self._user = ""
        with self._endpoint._lock:
            self._endpoint.stats.connections += 1

    @property
    def _endpoint(self) -> WinRMEndpoint:
        endpoint: WinRMEndpoint = self.server.endpoint  # type: ignore[attr-defined]
        return endpoint

    def do_POST(self) -> None:
        body = self.read_body()
        if self.path.split("?")[0].rstrip("/").lower() != "/wsman":
            self._answer(404, b"")
            return
        user, token = self._authenticate()
        if not user:
            return
        endpoint = self._endpoint
        action = ""
        try:
            action = soap.ACTIONS.get(soap.text(ET.fromstring(body).find("s:Header", soap.NS), "a:Action"), "")
        except ET.ParseError:
            self._answer(400, b"")
            return
        failure = endpoint._take_injection(action)
        if failure is Failure.drop:
            self.close_connection = True
            self.request.close()
            return
        if failure is Failure.unavailable:
            self._answer(503, b"")
            return
        if failure is not None:
            denied = failure is Failure.access_denied
            fault = soap.Fault(
                500, "Access is denied." if denied else "The WS-Management service cannot process the request."
            )
            if denied:
                fault.wsman_code, fault.subcode = 5, "w:AccessDenied"
            self._answer(500, soap.fault_envelope("", fault), token=token)
            return
        status, payload = endpoint.handle(body, user=user, host=self.headers.get("Host", ""))
        self._answer(status, payload, token=token)

    def _authenticate(self) -> tuple[str, str]:
        """(user, final token to send back) when authenticated; ("", "") after answering 401 itself."""
        endpoint = self._endpoint
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic" and "basic" in endpoint.auth:
            name, _, password = base64.b64decode(value).decode("utf-8", "replace").partition(":")
            if name in endpoint.users and secrets.compare_digest(endpoint.users[name], password):
                with endpoint._lock:
                    endpoint.stats.authentications += 1
                return name, ""
        elif (scheme.lower() in ("negotiate", "ntlm") and "ntlm" in endpoint.auth) or (
            scheme.lower() == "credssp" and "credssp" in endpoint.auth
        ):
            if self._context is None:
                protocol = "credssp" if scheme.lower() == "credssp" else "negotiate"
                self._context = spnego.server(protocol=protocol, service="HTTP")
            try:
                out = self._context.step(base64.b64decode(value))
            except spnego.exceptions.SpnegoError:
                self._context, self._user = None, ""
                self._challenge()
                return "", ""
            token = f"{scheme} {base64.b64encode(out).decode()}" if out else ""
            if not self._context.complete:
                self._challenge(token)
                return "", ""
            self._user = str(self._context.client_principal or "")
            with endpoint._lock:
                endpoint.stats.authentications += 1
            return self._user, token
        elif not header and self._user:
            return self._user, ""  # NTLM authenticates the connection
        self._challenge()
        return "", ""

    def _challenge(self, token: str = "") -> None:
        headers = (
            [token]
            if token
            else [
                *(["Negotiate"] if "ntlm" in self._endpoint.auth else []),
                *(["CredSSP"] if "credssp" in self._endpoint.auth else []),
                *(['Basic realm="WSMAN"'] if "basic" in self._endpoint.auth else []),
            ]
        )
        self._answer(401, b"", authenticate=headers)

    def _answer(self, status: int, payload: bytes, *, token: str = "", authenticate: list[str] | None = None) -> None:
        self.send_response(status)
        for value in authenticate or []:
            self.send_header("WWW-Authenticate", value)
        if token:
            self.send_header("WWW-Authenticate", token)
        if payload:
            self.send_header("Content-Type", "application/soap+xml;charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
