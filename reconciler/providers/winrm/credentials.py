"""A WinRM password and the credential file it may come from: the value only through :meth:`Secret.reveal`,
never in a ``repr``, a ``str`` or an error (``settings`` reads them from the environment)."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class SettingsError(ValueError):
    """A RECONCILER_WINRM_* setting is wrong; the message names the variable and the fix."""


class Secret:
    """A password: its value only through :meth:`reveal`, never in ``repr`` or ``str``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Secret, self._value))


def read_credential_file(path: Path, *, var: str) -> tuple[str, Secret]:
    """(user, password) from a file of ``username=`` and ``password=`` lines (blank lines and ``#`` comments
    allowed). Refused when its group or others have any permission on it."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise SettingsError(f"{var}={str(path)!r}: cannot read it ({exc.strerror})") from None
    if os.name == "posix" and mode & 0o077:
        raise SettingsError(
            f"{var}={str(path)!r}: group or others may access it (mode {stat.filemode(mode)}): chmod 600 {path}"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{var}={str(path)!r}: cannot read it ({type(exc).__name__})") from None
    fields: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        key = name.strip().casefold()
        if not sep or key not in ("username", "user", "password"):
            raise SettingsError(f"{var}={str(path)!r}: line {number}: expected username=... or password=...")
        fields["username" if key == "user" else key] = value.strip() if key != "password" else value
    missing = [k for k in ("username", "password") if not fields.get(k)]
    if missing:
        raise SettingsError(f"{var}={str(path)!r}: no {' and no '.join(missing)}= line")
    return fields["username"], Secret(fields["password"])
