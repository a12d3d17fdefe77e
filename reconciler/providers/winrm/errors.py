"""The WinRM boundary's error mapping: what pywinrm, requests and PowerShell raise becomes ``core.errors``.

========================================================  =================================================
connection refused or reset, dropped, read timeout         TemporaryError
HTTP 5xx, a WS-Management fault, an operation timeout      TemporaryError (the endpoint is busy or restarting)
HTTP 401, CredSSP refusing the credentials                PermanentError ``Unauthorized``: the endpoint and
                                                           the credential settings to check, never a password
a fault saying access is denied (WinRM error 5)            PermanentError ``AccessDenied``
a certificate the CA bundle does not trust                 PermanentError ``Certificate``
other HTTP 4xx, a missing library (pykerberos)             PermanentError
a PowerShell terminating error                             :class:`ScriptError` (a PermanentError) naming the
                                                           cmdlet and its message, with the whole record
========================================================  =================================================

Every message passes through the run's redactor: it masks the endpoint's password, the credential
variables of the environment and the data argument's secret-looking values.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

import requests
from requests_credssp import exceptions as credssp_errors
from winrm import exceptions as winrm_errors

from reconciler.core.errors import PermanentError, ReconcilerError, TemporaryError
from reconciler.core.redact import Redactor, looks_secret
from reconciler.providers.winrm.contract import ErrorRecord
from reconciler.providers.winrm.settings import PREFIX, Auth, EndpointSettings

ACCESS_DENIED_CODES = frozenset({5})  # ERROR_ACCESS_DENIED in a WSManFault
_ERRNO = re.compile(r"\[Errno -?\d+\] (?P<why>[^'\")]+)")  # the OS's reason inside urllib3's wrapping


class ScriptError(PermanentError):
    """A script stopped on a PowerShell terminating error. ``record`` holds what the prelude reported
    (``record.category == "ObjectNotFound"`` is how a missing object shows)."""

    def __init__(self, message: str, *, record: ErrorRecord, endpoint: str, script: str) -> None:
        super().__init__(message, code=record.code)
        self.record = record
        self.endpoint = endpoint
        self.script = script


def script_error(record: ErrorRecord, *, endpoint: str, script: str, redact: Redactor) -> ScriptError:
    """``ENDPOINT: SCRIPT: CMDLET: MESSAGE (CATEGORY, target T, id ID)``, redacted; so is the record."""
    what = record.cmdlet or record.activity or "the script"
    details = [record.category] if record.category else []
    if record.target:
        details.append(f"target {record.target!r}")
    if record.error_id:
        details.append(f"id {record.error_id}")
    message = f"{endpoint}: {script}: {what}: {record.message.strip() or 'failed'}"
    if details:
        message += f" ({', '.join(details)})"
    if record.recommended_action:
        message += f"; {record.recommended_action.strip()}"
    texts: dict[str, Any] = {k: redact.text(v) for k, v in vars(record).items() if isinstance(v, str)}
    clean = dataclasses.replace(record, **texts)
    return ScriptError(redact.text(message), record=clean, endpoint=endpoint, script=script)


def unauthorized(endpoint: EndpointSettings) -> PermanentError:
    """The one message a refused sign-in gets: where, with what, what to check. No password."""
    hint = ""
    if endpoint.auth is Auth.basic:
        hint = "; basic must be enabled on the WinRM service and works with local accounts only"
    elif endpoint.auth is Auth.kerberos:
        hint = f"; the endpoint needs an HTTP/{endpoint.host} service principal, reached by that name"
    elif endpoint.auth is Auth.credssp:
        hint = "; CredSSP must be enabled on the endpoint (Enable-WSManCredSSP -Role Server)"
    return PermanentError(
        f"{endpoint.host}: the WinRM endpoint {endpoint.url} refused the credentials (HTTP 401, "
        f"{PREFIX}_AUTH={endpoint.auth}): check {endpoint.credential_source}{hint}",
        code="Unauthorized",
    )


def translate(exc: BaseException, *, endpoint: EndpointSettings, doing: str, redact: Redactor) -> ReconcilerError:
    """The core error for a failure of the transport while ``doing`` something (``run server_info``)."""
    where = f"{endpoint.host}: {doing}"
    if isinstance(exc, ReconcilerError):
        return exc
    if isinstance(exc, winrm_errors.InvalidCredentialsError | credssp_errors.AuthenticationException):
        return unauthorized(endpoint)
    if isinstance(exc, credssp_errors.NTStatusException):  # CredSSP's own refusal of the credentials
        return unauthorized(endpoint)
    if isinstance(exc, winrm_errors.WSManFaultError):
        reason = redact.text(str(exc.reason).strip())
        if exc.wsman_fault_code in ACCESS_DENIED_CODES or exc.code == 403:
            return PermanentError(
                f"{where}: access denied by WinRM ({reason}): the account ({endpoint.credential_source}) must be "
                "allowed to use WinRM there (Administrators or Remote Management Users; on VMM, a user role)",
                code="AccessDenied",
            )
        code = f"WSManFault{exc.wsman_fault_code}" if exc.wsman_fault_code is not None else "WSManFault"
        if exc.code >= 500:
            return TemporaryError(f"{where}: WinRM fault (HTTP {exc.code}, {code}): {reason}")
        return PermanentError(f"{where}: WinRM refused the request (HTTP {exc.code}, {code}): {reason}", code=code)
    if isinstance(exc, winrm_errors.WinRMTransportError):
        if exc.code >= 500:
            return TemporaryError(f"{where}: the endpoint answered HTTP {exc.code}")
        return PermanentError(
            f"{where}: the endpoint answered HTTP {exc.code}: is {endpoint.url} a WinRM listener?",
            code=f"HTTP{exc.code}",
        )
    if isinstance(exc, winrm_errors.WinRMOperationTimeoutError):
        return TemporaryError(f"{where}: WinRM operation timed out ({PREFIX}_OPERATION_TIMEOUT_S)")
    if isinstance(exc, requests.exceptions.SSLError):
        return PermanentError(
            f"{where}: the TLS handshake with {endpoint.url} failed ({_first_line(exc, redact)}): is the listener's "
            f"certificate issued for {endpoint.host} by a CA in {PREFIX}_CA_BUNDLE (or the system's store)?",
            code="Certificate",
        )
    if isinstance(exc, winrm_errors.WinRMError):  # a refused setup: an auth method not installed, not enabled
        return PermanentError(f"{where}: {_first_line(exc, redact)}", code="WinRM")
    if isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(exc, requests.exceptions.Timeout):
        errno = _ERRNO.search(str(exc))
        why = redact.text(errno.group("why").strip()) if errno else _first_line(exc, redact)
        return TemporaryError(
            f"{where}: cannot connect to {endpoint.url} ({why}): is the WinRM listener up and port {endpoint.port} "
            "open to this machine?"
        )
    if isinstance(exc, requests.exceptions.RequestException | OSError):
        return TemporaryError(f"{where}: {type(exc).__name__}: {_first_line(exc, redact)}")
    return PermanentError(f"{where}: {type(exc).__name__}: {_first_line(exc, redact)}", code="WinRM")


def data_secrets(data: Any) -> frozenset[str]:
    """String values of the data argument under secret-looking keys (``password``, ``runAsSecret``...)."""
    found: set[str] = set()

    def walk(value: Any, secret: bool) -> None:
        if isinstance(value, str):
            if secret and value:
                found.add(value)
        elif isinstance(value, Mapping):
            for key, child in value.items():
                walk(child, secret or (isinstance(key, str) and looks_secret(key)))
        elif isinstance(value, list | tuple):
            for child in value:
                walk(child, secret)

    walk(data, False)
    return frozenset(found)


def _first_line(exc: BaseException, redact: Redactor) -> str:
    text = str(exc).strip().splitlines()
    return redact.text(text[0][:300]) if text else type(exc).__name__
