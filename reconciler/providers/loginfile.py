"""Login files: the credentials of real providers (vCenter servers, BMCs) kept out of the environment.

A login file is TOML, readable by its owner only (like an SSH key: a file others can read is refused),
with a ``[default]`` table and one table per target under a section named by the provider::

    [default]
    user = "svc-reconciler"
    password = "..."

    [servers."vcenter01.example.com"]   # or [bmcs."esx01.example.com"] for BMCs
    user = "..."
    password = "..."
    address = "10.0.0.5:443"          # optional: dial this instead of the name

Passwords are held in ``Login`` objects whose repr hides them; no message built here contains one.
"""

from __future__ import annotations

import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class LoginFileError(ValueError):
    """The login file is unreadable, too open or malformed; the message names the file and the fix."""


@dataclass(frozen=True)
class Login:
    user: str
    password: str = field(repr=False)  # never printed, logged or put in a message


@dataclass(frozen=True)
class LoginFile:
    path: Path
    default: Login | None
    logins: dict[str, Login]  # by target name, as written in the file
    addresses: dict[str, str]  # target name -> the address to dial instead

    def login_for(self, *names: str) -> Login | None:
        """The first target table matching one of ``names`` (case-insensitive), else ``[default]``."""
        for name in names:
            for key, login in self.logins.items():
                if key.casefold() == name.casefold():
                    return login
        return self.default

    def address_for(self, *names: str) -> str | None:
        for name in names:
            for key, address in self.addresses.items():
                if key.casefold() == name.casefold():
                    return address
        return None


def read_login_file(path: Path, *, section: str, variable: str) -> LoginFile:
    """Read and check a login file whose per-target tables live under ``[section."NAME"]``; ``variable`` is
    the environment variable that named it (for messages)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        raise LoginFileError(f"{variable}={str(path)!r}: no such file") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise LoginFileError(f"{path}: readable by other users; it holds passwords: chmod 600 {path}")
    try:
        document: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LoginFileError(f"{path}: not a readable TOML file ({type(exc).__name__})") from None
    unknown = sorted(set(document) - {"default", section})
    if unknown:
        raise LoginFileError(f'{path}: unknown table(s) {", ".join(unknown)}; use [default] and [{section}."NAME"]')
    default = _login(path, "[default]", document["default"]) if "default" in document else None
    tables = document.get(section, {})
    if not isinstance(tables, dict):
        raise LoginFileError(f'{path}: "{section}" must hold [{section}."NAME"] tables')
    logins: dict[str, Login] = {}
    addresses: dict[str, str] = {}
    for name, table in tables.items():
        where = f"[{section}.{name!r}]"
        if not isinstance(table, dict):
            raise LoginFileError(f"{path}: {where} must be a table")
        if "user" in table or "password" in table:
            login = _login(path, where, table)
            if login is not None:
                logins[name] = login
        if table.get("address"):
            addresses[name] = str(table["address"])
    return LoginFile(path=path, default=default, logins=logins, addresses=addresses)


def _login(path: Path, where: str, table: object) -> Login:
    if not isinstance(table, dict):
        raise LoginFileError(f"{path}: {where} must be a table with user and password")
    user, password = table.get("user"), table.get("password")
    if not isinstance(user, str) or not user or not isinstance(password, str) or not password:
        raise LoginFileError(f"{path}: {where} needs both user and password (strings)")
    return Login(user, password)
