"""The CLI end to end: what a user types and what they see, exit codes included.

Commands run in-process through typer's ``CliRunner`` (``catch_exceptions=False``, so a crash fails the
test with its traceback), plus one real subprocess run of ``python -m reconciler`` to cover the entry
point. The example specs under ``specs/`` are the happy path; a copy with one typo is the unhappy one.
The committed JSON Schemas are checked against the models and against the examples.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from typer.testing import Result

from reconciler import __version__
from reconciler.spec import kinds
from reconciler.spec.yamlsource import load_text
from tests.helpers import COLOUR, ROOT, SPECS, plain, run

SCHEMAS = ROOT / "schemas"
EXAMPLE_FILES = sorted(SPECS.rglob("*.yaml"))
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def _run(*args: str) -> Result:
    return run(*args, allow_traceback=True)  # these tests check for tracebacks themselves


def _plain(text: str) -> str:
    return plain(text, COLOUR)  # in case the environment forces colour


def _documents(path: Path) -> list[dict[str, Any]]:
    """The documents of a spec file as the validator reads them (YAML 1.1 quirks neutralised)."""
    sources, problems = load_text(path.read_text(encoding="utf-8"), str(path))
    assert problems == []
    return [source.data for source in sources]


@pytest.fixture
def typo_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """A copy of the examples in ``tmp_path/specs`` with ``polcy:`` for ``policy:`` in acmecorp.yaml;
    the working directory is ``tmp_path``. Returns the typo's line and column."""
    shutil.copytree(SPECS, tmp_path / "specs")
    tenant = tmp_path / "specs" / "tenants" / "acmecorp.yaml"
    lines = tenant.read_text(encoding="utf-8").splitlines(keepends=True)
    (number,) = [i for i, line in enumerate(lines) if line.strip() == "policy:"]
    lines[number] = lines[number].replace("policy:", "polcy:")
    tenant.write_text("".join(lines), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return number + 1, lines[number].index("polcy") + 1


def test_examples_are_valid_with_one_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = _run("validate", "specs/")
    out = _plain(result.output)
    assert result.exit_code == 0, out
    assert "valid" in out
    assert "warning[memory.report-max-overreports]" in out
    assert "Traceback" not in out


def test_strict_fails_on_the_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = _run("validate", "specs/", "--strict")
    assert result.exit_code == 1
    assert "memory.report-max-overreports" in _plain(result.output)


def test_typo_names_file_line_column_path_and_fix(typo_specs: tuple[int, int]) -> None:
    line, column = typo_specs
    result = _run("validate", "specs")
    out = _plain(result.output)
    assert result.exit_code == 1, out
    assert f"specs/tenants/acmecorp.yaml:{line}:{column}: error[schema.unknown-field]" in out
    assert "spec.recovery.polcy" in out
    assert "did you mean 'policy'" in out
    assert "Traceback" not in out


def test_json_output(typo_specs: tuple[int, int]) -> None:
    line, column = typo_specs
    result = _run("validate", "specs", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["formatVersion"] == 1
    assert report["valid"] is False
    assert (report["errors"], report["warnings"]) == (1, 1)
    for d in report["diagnostics"]:
        assert {"code", "file", "line", "column", "path", "message", "hint"} <= d.keys()
    (error,) = [d for d in report["diagnostics"] if d["severity"] == "error"]
    wanted = {
        "code": "schema.unknown-field",
        "file": "specs/tenants/acmecorp.yaml",
        "line": line,
        "column": column,
        "path": "spec.recovery.polcy",
        "hint": "did you mean 'policy'?",
    }
    assert {key: error[key] for key in wanted} == wanted
    assert "polcy" in error["message"]


def test_nonexistent_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = _run("validate", str(missing))
    out = _plain(result.output)
    assert result.exit_code == 1
    assert "file.not-found" in out
    assert str(missing) in out
    assert "Traceback" not in out


def test_subprocess_entry_point() -> None:
    """The real process: ``python -m reconciler`` (what the console script calls)."""
    run = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", "specs/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "valid" in run.stdout
    assert "memory.report-max-overreports" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr


def test_help_lists_commands() -> None:
    result = _run("--help")
    assert result.exit_code == 0
    assert "validate" in result.output
    assert "schema" in result.output


def test_version() -> None:
    result = _run("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"reconciler {__version__}"


def test_committed_schemas_are_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = _run("schema", "--check")
    assert result.exit_code == 0, result.output
    assert "current" in result.output


def test_schema_out_writes_the_committed_files(tmp_path: Path) -> None:
    result = _run("schema", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted([*kinds.SCHEMA_FILES.values(), kinds.COMBINED_SCHEMA_FILE])
    assert len(written) == 5
    for name in written:
        assert (tmp_path / name).read_bytes() == (SCHEMAS / name).read_bytes(), name


def test_schema_check_names_a_stale_file(tmp_path: Path) -> None:
    for f in SCHEMAS.glob("*.json"):
        shutil.copy(f, tmp_path / f.name)
    stale = tmp_path / kinds.SCHEMA_FILES["Tenant"]
    stale.write_text(stale.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    result = _run("schema", "--check", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert stale.name in result.stderr
    assert kinds.SCHEMA_FILES["Site"] not in result.stderr


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.relative_to(SPECS).as_posix() for p in EXAMPLE_FILES])
def test_example_modeline_names_its_kind_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = MODELINE.match(first)
    assert match, f"{path}: first line should be a yaml-language-server modeline, not {first!r}"
    target = (path.parent / match.group(1)).resolve()
    assert target.is_file(), target
    assert target.parent == SCHEMAS
    documents = _documents(path)
    assert documents
    for doc in documents:
        assert target.name == kinds.SCHEMA_FILES[doc["kind"]], f"{path}: {doc['kind']} document"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.relative_to(SPECS).as_posix() for p in EXAMPLE_FILES])
def test_examples_match_the_json_schemas(path: Path) -> None:
    combined = json.loads((SCHEMAS / kinds.COMBINED_SCHEMA_FILE).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(combined)
    for doc in _documents(path):
        schema = json.loads((SCHEMAS / kinds.SCHEMA_FILES[doc["kind"]]).read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        for validator in (Draft202012Validator(schema), Draft202012Validator(combined)):
            errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
            assert errors == [], f"{path} ({doc['kind']} {doc['metadata']['name']})"


def test_an_unusable_database_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    """Environment failures nobody anticipated in a command still end in a message naming what to check."""
    env = {**os.environ, "RECONCILER_AUDIT_LOG": "-"}
    unusable = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", str(SPECS), "--estate", "/proc/no-such/estate.db"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert unusable.returncode == 1
    assert "Traceback" not in unusable.stderr
    assert unusable.stderr.startswith("error: ") and "/proc/no-such" in unusable.stderr
    assert "RECONCILER_ESTATE" in unusable.stderr
    no_driver = subprocess.run(
        [sys.executable, "-m", "reconciler", "apply", str(SPECS), "--yes", "--estate", str(tmp_path / "e.db")],
        capture_output=True,
        text=True,
        env={**env, "RECONCILER_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/reconciler"},
        timeout=60,
        check=False,
    )
    assert no_driver.returncode == 1
    assert "Traceback" not in no_driver.stderr
    assert "psycopg" in no_driver.stderr
