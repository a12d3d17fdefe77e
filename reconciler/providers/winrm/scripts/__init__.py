"""The PowerShell the provider runs, shipped as package data: constant text, never built from user values.

``_bootstrap.ps1`` is the only text on the command line; ``_prelude.ps1`` decodes the data argument, runs a
script body and writes its output between markers (docs/winrm.md). Every other ``NAME.ps1`` is a script body:
``param($Data)``, then the cmdlets, returning objects. Kind families add their own file here
(``logical_networks.ps1``...) and run it by name: ``Runner.run(endpoint, "logical_networks", data)``."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

BOOTSTRAP = "_bootstrap"
PRELUDE = "_prelude"
_NAME = re.compile(r"^_?[a-z][a-z0-9_]*$")


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
    return Script(name, source.read_text(encoding="utf-8-sig"))


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
