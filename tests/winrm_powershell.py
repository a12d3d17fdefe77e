"""The PowerShell side of the tests' WinRM endpoint (``tests/winrm_endpoint.py``), without PowerShell.

No PowerShell runs here. A command line is decoded the way powershell.exe would read it (``-EncodedCommand``
is base64 of UTF-16LE; ``-Command -`` reads the script from stdin), the reconciler's bootstrap is
recognised and its stdin payload unpacked (prelude, script body, data argument, nonce), and the decoded
script and data go to a **handler** that answers as the script would:

    handler(script, data) -> (stdout, stderr, exit_code)

``script`` is the shipped script's name (``"server_info"``) when the body is one of
``reconciler/providers/winrm/scripts/*.ps1``, else the script text itself; ``data`` is the decoded data
argument (a JSON value), or None for a script sent without one. A stateful VMM/Hyper-V emulator is such a
handler: it looks at the name and the data and answers the way the real cmdlets would.

:func:`result` and :func:`error` write stdout exactly as the shipped prelude does (blocks between markers,
ASCII-escaped JSON); :data:`NONCE` in a handler's stdout is replaced by the run's nonce, so a handler never
needs to know it (and a test can forge markers with another nonce).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.providers.winrm import scripts

Reply = tuple[str, str, int]  # stdout, stderr, exit code
Handler = Callable[[str, Any], Reply]

NONCE = "{{nonce}}"
TOO_LONG = "The command line is too long.\r\n"
CMD_LIMIT = 8191  # cmd.exe
CREATE_PROCESS_LIMIT = 32767  # WINRS_SKIP_CMD_SHELL: CreateProcess alone


def result(*output: Any, warnings: Sequence[str] = (), noise: str = "") -> Reply:
    """What the prelude prints when the script body wrote ``output`` (each argument one pipeline object)
    and ``warnings``; ``noise`` is printed before it (a banner, progress, verbose lines)."""
    block = json.dumps({"output": list(output), "warnings": list(warnings)}, ensure_ascii=True, separators=(",", ":"))
    return f"{noise}\r\n--reconciler-result-{NONCE}--{block}--end-reconciler-result-{NONCE}--\r\n", "", 0


def error(
    message: str,
    *,
    cmdlet: str = "",
    category: str = "NotSpecified",
    target: Any = None,
    error_id: str = "",
    exception: str = "System.Management.Automation.RuntimeException",
    recommended_action: str | None = None,
    noise: str = "",
) -> Reply:
    """What the prelude prints when the script stopped on a terminating error (exit code 1)."""
    record = {
        "cmdlet": cmdlet or None,
        "category": category,
        "reason": exception.rsplit(".", 1)[-1],
        "activity": cmdlet,
        "message": message,
        "target": target,
        "targetType": type(target).__name__ if target is not None else "",
        "errorId": error_id or (f"{category},{cmdlet}" if cmdlet else category),
        "exception": exception,
        "recommendedAction": recommended_action,
        "line": 1,
    }
    block = json.dumps(record, ensure_ascii=True, separators=(",", ":"))
    return f"{noise}\r\n--reconciler-error-{NONCE}--{block}--end-reconciler-error-{NONCE}--\r\n", "", 1


def no_handler(script: str, data: Any) -> Reply:
    name = script if script in scripts.shipped() else "a script"
    return "", f"the test endpoint has no handler for {name}\r\n", 1


@dataclass(frozen=True)
class Decoded:
    """How powershell.exe would read a command line."""

    powershell: bool  # the command starts PowerShell
    script: str | None  # the script text from -EncodedCommand or -Command TEXT; None when it reads stdin
    reads_stdin: bool  # -Command - (the script is stdin), or the bootstrap (its payload is stdin)
    bootstrap: bool  # the script is the reconciler's bootstrap


def decode_command_line(command_line: str) -> Decoded:
    tokens = command_line.split()
    exe = tokens[0].strip('"').replace("\\", "/").rsplit("/", 1)[-1].casefold() if tokens else ""
    if exe not in ("powershell", "powershell.exe", "pwsh", "pwsh.exe"):
        return Decoded(powershell=False, script=command_line, reads_stdin=False, bootstrap=False)
    for index, token in enumerate(tokens[1:], start=1):
        option = token.lstrip("-/").casefold()
        if not token.startswith(("-", "/")):
            continue
        value = tokens[index + 1] if index + 1 < len(tokens) else ""
        if option in ("e", "ec", "enc") or (len(option) >= 3 and "encodedcommand".startswith(option)):
            try:
                text = base64.b64decode(value, validate=True).decode("utf-16-le")
            except (binascii.Error, UnicodeDecodeError):
                return Decoded(powershell=True, script="", reads_stdin=False, bootstrap=False)
            is_bootstrap = text == scripts.bootstrap().text
            return Decoded(powershell=True, script=text, reads_stdin=is_bootstrap, bootstrap=is_bootstrap)
        if option in ("c", "command"):
            if value == "-":
                return Decoded(powershell=True, script=None, reads_stdin=True, bootstrap=False)
            return Decoded(powershell=True, script=" ".join(tokens[index + 1 :]), reads_stdin=False, bootstrap=False)
    return Decoded(powershell=True, script="", reads_stdin=False, bootstrap=False)


@dataclass(frozen=True)
class Payload:
    """The bootstrap's stdin line, unpacked."""

    prelude: str
    body: str
    data: Any
    nonce: str


def unpack_payload(stdin: bytes) -> Payload:
    """The four dot-separated fields the bootstrap reads; ValueError when the line is not that."""
    fields = stdin.decode("ascii").strip().split(".")
    if len(fields) != 4:
        raise ValueError(f"the bootstrap expects 4 dot-separated fields on stdin, got {len(fields)}")
    prelude, body, data = (base64.b64decode(f, validate=True).decode("utf-8") for f in fields[:3])
    return Payload(prelude=prelude, body=body, data=json.loads(data) if data else None, nonce=fields[3])


def script_name(body: str) -> str:
    """The shipped script's name for ``body``, or ``body`` itself."""
    for name, script in scripts.shipped().items():
        if script.text == body:
            return name
    return body


def encode_output(text: str, codepage: int) -> bytes:
    """Bytes as a console with ``codepage`` writes ``text``: what it cannot represent becomes '?'."""
    codec = "utf-8" if codepage == 65001 else f"cp{codepage}"
    return text.encode(codec, errors="replace")


def decode_input(raw: bytes, codepage: int) -> str:
    codec = "utf-8" if codepage == 65001 else f"cp{codepage}"
    return raw.decode(codec, errors="replace")
