"""One fixture per validation rule: a bad spec in, the exact diagnostics out.

Each case is a folder under ``tests/fixtures/validate/<case>/`` holding ``expected.yaml`` and the spec
files of the case. Unless ``expected.yaml`` says ``base: false``, the case is laid over the valid
estate in ``_base/`` (site.yaml, tenant.yaml, profiles.yaml): a case file with the same name replaces
the base file, other files are added. ``paths`` (default ``["."]``) are what validate is given.
The test compares every diagnostic produced (errors and warnings) with the expected list on code,
file, line, path and severity; ``column`` and a ``message`` substring are checked when given.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.core.diagnostics import Diagnostic
from reconciler.spec import yamlsource
from reconciler.spec.loader import load_paths

FIXTURES = Path(__file__).parent / "fixtures" / "validate"
BASE = FIXTURES / "_base"
CASES = sorted(p for p in FIXTURES.iterdir() if p.is_dir() and not p.name.startswith("_"))


def _lay_out(case: Path, expected: dict[str, Any], into: Path) -> None:
    """Copy base and case files into ``into``; ``symlinks: {name: target}`` makes (dangling) links."""
    if expected.get("base", True):
        for f in BASE.iterdir():
            shutil.copy(f, into / f.name)
    for f in case.iterdir():
        if f.name != "expected.yaml":
            shutil.copy(f, into / f.name)
    for name in expected.get("remove", []):
        (into / name).unlink()
    for name, target in expected.get("symlinks", {}).items():
        (into / name).symlink_to(target)


def _actual(d: Diagnostic) -> dict[str, Any]:
    return {
        "code": d.code,
        "file": d.location.file,
        "line": d.location.line,
        "path": d.path,
        "severity": d.severity.value,
    }


def _want(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": e["code"],
        "file": e["file"],
        "line": e["line"],
        "path": e.get("path", ""),
        "severity": e.get("severity", "error"),
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = yaml.safe_load((case / "expected.yaml").read_text())
    _lay_out(case, expected, tmp_path)
    for limit, value in expected.get("limits", {}).items():  # e.g. MAX_FILE_BYTES, to test a limit cheaply
        assert hasattr(yamlsource, limit), limit
        monkeypatch.setattr(yamlsource, limit, value)
    monkeypatch.chdir(tmp_path)
    result = load_paths(expected.get("paths", ["."]))
    actual = [_actual(d) for d in result.diagnostics]
    wanted = [_want(e) for e in expected["diagnostics"]]
    assert sorted(actual, key=str) == sorted(wanted, key=str), "\n".join(
        f"{d.location}: {d.code} {d.path}: {d.message}" for d in result.diagnostics
    )
    by_key = {(d.code, d.location.line, d.path): d for d in result.diagnostics}
    for e in expected["diagnostics"]:
        d = by_key[(e["code"], e["line"], e.get("path", ""))]
        if "column" in e:
            assert d.location.column == e["column"]
        if "message" in e:
            assert e["message"] in d.message
        assert d.hint, f"{d.code} has no hint: every diagnostic says how to fix it"


def test_base_is_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The base estate must validate with no diagnostic, or every case would inherit noise."""
    monkeypatch.chdir(BASE)
    assert load_paths(["."]).diagnostics == []


def test_every_rule_code_has_a_fixture() -> None:
    """Every diagnostic code the validator can emit (listed in docs/validation.md) has a case."""
    documented = _documented_codes()
    covered: set[str] = set()
    for case in CASES:
        expected = yaml.safe_load((case / "expected.yaml").read_text())
        covered.update(e["code"] for e in expected["diagnostics"])
    missing = sorted(documented - covered)
    assert not missing, f"codes without a fixture: {missing}"


def test_every_emitted_code_is_documented() -> None:
    """Codes written in the source are the codes docs/validation.md lists, no more, no fewer."""
    pattern = re.compile(
        r'"((?:yaml|file|spec|schema|secret|network|ref|tenant|site|recovery|policy|nv|memory|vm|bios|power|name|text)\.[a-z-]+)"'
    )
    in_source = set()
    for path in (Path(__file__).parent.parent / "reconciler" / "spec").rglob("*.py"):
        in_source.update(pattern.findall(path.read_text()))
    assert in_source == _documented_codes()


def _documented_codes() -> set[str]:
    doc = Path(__file__).parent.parent / "docs" / "validation.md"
    codes = set()
    for line in doc.read_text().splitlines():
        if line.startswith("| `") and "` |" in line:
            codes.add(line.split("`")[1])
    return codes
