"""The PowerShell the provider runs, shipped as package data: constant text, never built from user values.

``_bootstrap.ps1`` is the only text on the command line; ``_prelude.ps1`` decodes the data argument, runs a
script body and writes its output between markers (docs/winrm.md). Every other ``NAME.ps1`` is a script body:
``param($Data)``, then the cmdlets, returning objects. Kind families add their own file here
(``vmm_networks.ps1``...) and run it by name: ``Runner.run(endpoint, "vmm_networks", data)``.

A body may share helpers with others: a line ``# include: _NAME`` (after its ``param`` line) is replaced by the
shipped ``_NAME.ps1`` when the body is loaded (the VMM scripts include ``_vmm.ps1``: the module, the connection,
finding objects by ID or name). The included text is constant package data too."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

BOOTSTRAP = "_bootstrap"
PRELUDE = "_prelude"
_NAME = re.compile(r"^_?[a-z][a-z0-9_]*$")
_INCLUDE = re.compile(r"^# include: (?P<name>_[a-z][a-z0-9_]*)[ \t]*\r?$", re.MULTILINE)


@dataclass(frozen=True)
class Script:
    """A script body and the name it is known by (in logs and errors)."""

    name: str
    text: str


@functools.cache
def load(name: str) -> Script:
    """The shipped script ``NAME.ps1``; ValueError when there is none."""
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a script name (lower case letters, digits and _)")
    source = resources.files(__name__).joinpath(f"{name}.ps1")
    if not source.is_file():
        raise ValueError(f"no shipped script {name}.ps1; the scripts are {', '.join(sorted(shipped()))}")
    text = source.read_text(encoding="utf-8-sig")
    return Script(name, _INCLUDE.sub(lambda m: load(m.group("name")).text.rstrip("\r\n"), text))


@functools.cache
def shipped() -> dict[str, Script]:
    """Every shipped script body by name (the bootstrap and the prelude excluded)."""
    names = sorted(
        entry.name.removesuffix(".ps1")
        for entry in resources.files(__name__).iterdir()
        if entry.name.endswith(".ps1") and not entry.name.startswith("_")
    )
    return {name: load(name) for name in names}


def bootstrap() -> Script:
    return load(BOOTSTRAP)


def prelude() -> Script:
    return load(PRELUDE)
