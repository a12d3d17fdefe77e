"""Names and values nobody validated reach the reports as data, never as terminal control: a live object
whose name holds ESC sequences, a carriage return, a newline and a right-to-left override (what a
rogue or careless VMM administrator can type) is shown escaped in the plan and in every drift format.

End to end: ``reconciler estate init --from FILE`` loads an estate holding such an object (undeclared, so
the plan lists it as kept) and such a live value (a description the specs want changed), then plan and
drift run on it in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.core.text import clip, describe_char, printable, quoted
from reconciler.providers.embedded import seed
from tests.helpers import EMBEDDED_ENV, SPECS, isolate
from tests.helpers import out as _out
from tests.helpers import run as _run

SITE = "contoso-west"
# Clears the line, moves the cursor up, and starts a line that looks like one of the plan's own.
HOSTILE_NAME = "Evil\x1b[2K\r\x1b[1A    + logical network Forged\nFORGED-LINE\u202eexe.txt"
HOSTILE_VALUE = "guarded\x1b]0;pwned\x07\r\nFORGED-VALUE"
RAW = ("\x1b", "\r", "\x07", "\u202e")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch, unset=(seed.ENV_ESTATE_DB, *EMBEDDED_ENV), audit_log="-")


def _port_classification(name: str, description: str, *, owned: bool) -> dict[str, Any]:
    data = {"name": name, "description": description, "dhcpGuard": True, "routerGuard": True, "macSpoofing": False}
    return {"kind": "vmm.port_classification", "scope": SITE, "name": name, "data": data, "owned": owned}


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    """The shipped estate plus an undeclared port classification with a hostile name, and the declared one
    (Tenant-Guarded) with a hostile live description."""
    document = yaml.safe_load(seed.default_estate_file().read_text(encoding="utf-8"))
    document["objects"] += [
        _port_classification(HOSTILE_NAME, "planted", owned=True),
        _port_classification("Tenant-Guarded", HOSTILE_VALUE, owned=True),
    ]
    source = tmp_path / "hostile-estate.yaml"
    source.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    db = tmp_path / "estate.db"
    result = _run("estate", "init", "--from", source, "--estate", db)
    assert result.exit_code == 0, _out(result)
    return db


def _assert_inert(text: str) -> None:
    """No raw control character, and the planted text never begins a line of its own."""
    for char in RAW:
        assert char not in text, f"raw {char!r} in the output"
    for marker in ("FORGED-LINE", "FORGED-VALUE"):
        lines = [line for line in text.splitlines() if marker in line]
        assert lines, f"{marker} is not shown at all"
        for line in lines:
            assert not line.lstrip().startswith(marker), line


def test_the_plan_shows_hostile_live_names_and_values_escaped(estate: Path) -> None:
    result = _run("plan", SPECS, "--estate", estate)
    assert result.exit_code == 0, _out(result)
    text = result.output
    _assert_inert(text)
    assert printable(HOSTILE_NAME) in text  # escaped, whole, on the line of its object
    assert "Evil\\x1b[2K\\r\\x1b[1A" in text


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_drift_shows_hostile_live_names_and_values_escaped(estate: Path, fmt: str) -> None:
    result = _run("drift", SPECS, "--estate", estate, "--format", fmt)
    assert result.exit_code in (0, 2), _out(result)
    _assert_inert(result.output)


def test_printable_escapes_what_moves_the_cursor_and_keeps_other_scripts() -> None:
    assert printable("VM01") == "VM01"
    assert printable("Überwachung-東京") == "Überwachung-東京"
    assert printable("a\x1b[2Kb\r\nc\u202ed\x00") == "a\\x1b[2Kb\\r\\nc\\u202ed\\x00"
    assert printable("line\u2028sep") == "line\\u2028sep"


def test_long_values_are_cut_with_their_length() -> None:
    assert clip("short") == "short"
    assert clip("A" * 1_048_576) == "A" * 60 + "… (1048576 characters)"
    assert quoted("A" * 100) == repr("A" * 60) + "… (100 characters)"
    assert quoted("x\x1b") == "'x\\x1b'"


def test_a_character_is_described_by_its_escape_and_name() -> None:
    assert describe_char("\x1b") == "\\x1b (ESC)"
    assert describe_char("\u202e") == "U+202E (RIGHT-TO-LEFT OVERRIDE)"
    assert describe_char("\n") == "\\n (newline)"
