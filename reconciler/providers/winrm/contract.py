"""The script-running contract: what the runner sends to an endpoint and how it reads the answer. Pure.

Sent: a constant command line, ``powershell.exe ... -EncodedCommand <the bootstrap>``, well under cmd.exe's
8,191 characters whatever the script; then on stdin one ASCII line of four dot-separated fields: base64 of
the prelude, base64 of the script body, base64 of the data argument's JSON, and the run's nonce. User values
travel only in the third field, as data the prelude decodes: they are never part of any script text.

Received: the prelude writes one block between markers carrying the nonce (``--reconciler-result-N--`` /
``--end-reconciler-result-N--``, or the same with ``error``), anywhere in stdout; everything else the
endpoint prints (banners, warnings, progress, verbose lines) is ignored. A marker without the nonce is not
ours: a value echoed by a cmdlet cannot forge a result.
"""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.providers.winrm.scripts import Script, bootstrap, prelude

POWERSHELL = "powershell.exe"
POWERSHELL_OPTIONS = ("-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand")
CMD_LINE_LIMIT = 8191  # cmd.exe's longest command line (WinRS runs commands through cmd.exe /c)


class DataError(ValueError):
    """The data argument cannot be sent: the message names the field."""


@dataclass(frozen=True)
class ScriptResult:
    """What a script returned: the objects it wrote to the pipeline (as JSON values) and its warnings."""

    output: tuple[Any, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ErrorRecord:
    """A PowerShell terminating error, as the prelude reports it. ``category`` is PowerShell's
    ErrorCategory (``ObjectNotFound``, ``PermissionDenied``, ``InvalidArgument``...); ``error_id`` the
    FullyQualifiedErrorId (VMM's starts with its error number: ``801,Microsoft...``)."""

    message: str
    cmdlet: str = ""
    category: str = ""
    reason: str = ""
    activity: str = ""
    target: str = ""
    target_type: str = ""
    error_id: str = ""
    exception: str = ""
    recommended_action: str = ""
    line: int = 0

    @property
    def code(self) -> str:
        """The error's short code: the first part of the error id, else the category."""
        head = self.error_id.split(",", 1)[0].strip()
        return head or self.category or "ScriptError"

    @classmethod
    def from_json(cls, value: Any) -> ErrorRecord:
        if not isinstance(value, Mapping):
            return cls(message=_text(value))
        line = value.get("line")
        return cls(
            message=_text(value.get("message")),
            cmdlet=_text(value.get("cmdlet")),
            category=_text(value.get("category")),
            reason=_text(value.get("reason")),
            activity=_text(value.get("activity")),
            target=_text(value.get("target")),
            target_type=_text(value.get("targetType")),
            error_id=_text(value.get("errorId")),
            exception=_text(value.get("exception")),
            recommended_action=_text(value.get("recommendedAction")),
            line=line if isinstance(line, int) and not isinstance(line, bool) else 0,
        )


@dataclass(frozen=True)
class Invocation:
    """One run, ready to send: the command line and the stdin payload."""

    command: str
    arguments: tuple[str, ...]
    stdin: bytes
    nonce: str


def new_nonce() -> str:
    return secrets.token_hex(16)


def encoded_command(text: str) -> str:
    """PowerShell's -EncodedCommand form: base64 of the UTF-16LE text."""
    return base64.b64encode(text.encode("utf-16-le")).decode("ascii")


def invocation(script: Script, data: Mapping[str, Any] | None, *, nonce: str) -> Invocation:
    """The command line (constant) and the stdin line that carries ``script`` and ``data``."""
    payload = encode_data({} if data is None else data)
    fields = [
        _b64(prelude().text.encode("utf-8")),
        _b64(script.text.encode("utf-8")),
        _b64(payload.encode("ascii")),
        nonce,
    ]
    return Invocation(
        command=POWERSHELL,
        arguments=(*POWERSHELL_OPTIONS, encoded_command(bootstrap().text)),
        stdin=".".join(fields).encode("ascii") + b"\r\n",
        nonce=nonce,
    )


def encode_data(data: Mapping[str, Any]) -> str:
    """The data argument as compact ASCII JSON. Refuses what PowerShell or Windows would mangle: NUL in a
    string, non-finite numbers, and anything JSON cannot carry."""
    _check(data, "data")
    try:
        return json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DataError(f"the data argument cannot be sent as JSON: {exc}") from None


def _check(value: Any, path: str) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise DataError(f"{path}: a NUL character cannot be sent to PowerShell")
    elif isinstance(value, Mapping):
        for key, child in value.items():
            if not isinstance(key, str):
                raise DataError(f"{path}: keys must be strings, not {type(key).__name__}")
            _check(key, f"{path} key")
            _check(child, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            _check(child, f"{path}[{index}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise DataError(f"{path}: {value} is not a JSON number")


def parse_output(stdout: str, nonce: str) -> ScriptResult | ErrorRecord | None:
    """The block the prelude wrote for this run, or None when there is none (the script never ran, or
    output was lost). An error block wins over a result block. ValueError when a block is not JSON."""
    found: dict[str, str] = {}
    for match in re.finditer(
        rf"--reconciler-(?P<kind>result|error)-{re.escape(nonce)}--(?P<json>.*?)--end-reconciler-(?P=kind)-{re.escape(nonce)}--",
        stdout,
        re.DOTALL,
    ):
        found.setdefault(match.group("kind"), match.group("json"))
    if "error" in found:
        return ErrorRecord.from_json(_json(found["error"]))
    if "result" not in found:
        return None
    value = _json(found["result"])
    if not isinstance(value, Mapping):
        raise ValueError("the result block is not a JSON object")
    output = value.get("output")
    warnings = value.get("warnings")
    return ScriptResult(
        output=tuple(output) if isinstance(output, list) else (() if output is None else (output,)),
        warnings=tuple(_text(w) for w in warnings) if isinstance(warnings, list) else (),
    )


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"a marked block is not JSON ({exc.msg} at character {exc.pos})") from None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
