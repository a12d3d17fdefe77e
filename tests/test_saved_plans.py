"""A saved plan is the reviewed plan (issue #13, section 1): ``apply PLANFILE`` does what the file says, or
nothing.

- Everything that decides what apply does is covered: the desired values, and lifecycle, protection, ignored
  fields, the rollout (maxUnavailable, the maintenance window) and the tool's version. A change to any of
  them since the plan was made refuses the plan and says what changed.
- The file itself: a checksum over its content and its required fields. An edited file is refused; one whose
  checksum was recomputed still has to be what the specs and the live state produce now, value for value.
- A plan file is recognised by its content, whatever its name (``p.plan``, ``tfplan``).
- A file nobody could apply (nested a hundred thousand deep, an old format) is a one-line error, exit 1.

CLI runs in-process (``CliRunner``) in ``tmp_path``: a temporary estate and store, no audit file, the clock
pinned to a Wednesday noon (the shipped maintenance window, Saturday and Sunday, is closed)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

import reconciler
from reconciler.core.addresses import Address
from reconciler.providers.embedded import seed
from reconciler.reports import plan_json
from reconciler.runs import clock
from tests.helpers import (
    EMBEDDED_ENV,
    WEEKDAY_NOON,
    copy_specs,
    edit_row,
    edit_text,
    estate_snapshot,
    init_estate,
    isolate,
)
from tests.helpers import out as _out
from tests.helpers import plain as _plain
from tests.helpers import run as _run

BIOS = [f"bmc.bios:contoso-west/HV0{n}.contoso.int" for n in (1, 2, 3)]
VM01 = "hyperv.vm_memory:acmecorp/VM01"
VM02 = "hyperv.vm_memory:acmecorp/VM02"
VAULT = "asr.vault:contoso-west/WAPRecoveryVault"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch, unset=(seed.ENV_ESTATE_DB, *EMBEDDED_ENV), audit_log="-")
    monkeypatch.setenv(clock.TEST_NOW_ENV, WEEKDAY_NOON)


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    return copy_specs(tmp_path)


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    return init_estate(tmp_path / "estate.db")


def _save(specs: Path, estate: Path, name: str = "plan.json") -> Path:
    saved = specs.parent / name
    result = _run("plan", specs, "-o", saved, "--estate", estate)
    assert result.exit_code == 0, _out(result)
    return saved


def _refused(result: Result, headline: str) -> list[str]:
    """The refusal's lines (``~ address: ...``); nothing was applied."""
    err = _plain(result.stderr)
    assert result.exit_code == 1, _out(result)
    assert headline in err, err
    assert "refusing to apply a plan nobody reviewed" in err or "run plan -o again" in err.lower(), err
    assert not re.search(r"^[✓=✗‖-] (create|update|replace|delete) ", _plain(result.stdout), re.MULTILINE)
    return [line.strip() for line in err.splitlines() if line.startswith("  ")]


def _apply(saved: Path, estate: Path, *extra: str) -> Result:
    return _run("apply", saved, "--yes", "--estate", estate, *extra)


def _document(saved: Path) -> dict[str, Any]:
    document = json.loads(saved.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _rewrite(saved: Path, document: dict[str, Any], *, reseal: bool) -> None:
    """Write ``document`` back, with its checksum recomputed (someone who knows the format) or not."""
    if reseal:
        document = plan_json.seal({k: v for k, v in document.items() if k != "checksum"})
    saved.write_text(json.dumps(document), encoding="utf-8")


def _change(document: dict[str, Any], address: str) -> dict[str, Any]:
    change = next(c for c in document["changes"] if c["address"] == address)
    assert isinstance(change, dict)
    return change


# --- everything that decides what apply does -----------------------------------------------------------


def test_raising_max_unavailable_after_review_makes_the_plan_stale(specs: Path, estate: Path) -> None:
    """Reviewed: one host at a time. Then maxUnavailable 1 -> 3: all three hosts would go at once."""
    saved = _save(specs, estate)
    edit_text(specs / "profiles" / "power.yaml", "maxUnavailable: 1", "maxUnavailable: 3")
    before = estate_snapshot(estate)
    lines = _refused(_apply(saved, estate, "--allow-disruption"), "The specs changed since")
    for bios in BIOS:
        assert f"~ {bios}: rollout.maxUnavailable 1 -> 3" in lines, lines
    assert estate_snapshot(estate) == before


def test_moving_the_maintenance_window_onto_now_makes_the_plan_stale(specs: Path, estate: Path) -> None:
    """Reviewed on a Wednesday with the weekend window: the reboots would be held. The window moved to
    Wednesday: they would run without --allow-disruption."""
    saved = _save(specs, estate)
    edit_text(specs / "profiles" / "power.yaml", "days: [Sat, Sun]", "days: [Wed]")
    lines = _refused(_apply(saved, estate), "The specs changed since")
    assert any(line.startswith(f"~ {BIOS[0]}: rollout.maintenanceWindow") for line in lines), lines


@pytest.mark.parametrize(
    ("path", "old", "new", "address", "what"),
    [
        (
            "tenants/acmecorp.yaml",
            "      lifecycle: {ignoreFields: [memory.priority]}\n",
            "",
            VM01,
            "lifecycle.ignoreFields",
        ),
        (
            "sites/contoso-west.yaml",
            "lifecycle: {protect: true}",
            "lifecycle: {protect: false}",
            VAULT,
            "lifecycle.protect",
        ),
    ],
)
def test_a_lifecycle_change_after_review_makes_the_plan_stale(
    specs: Path, estate: Path, path: str, old: str, new: str, address: str, what: str
) -> None:
    saved = _save(specs, estate)
    edit_text(specs / path, old, new)
    lines = _refused(_apply(saved, estate), "The specs changed since")
    assert any(line.startswith(f"~ {address}: {what}") for line in lines), lines


def test_a_plan_made_by_another_version_of_the_tool_is_refused(
    specs: Path, estate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = _save(specs, estate)
    made_by = reconciler.__version__
    monkeypatch.setattr(reconciler, "__version__", "99.0.0")
    lines = _refused(_apply(saved, estate), f"was made by reconciler {made_by}")
    assert lines == [] or all("99.0.0" not in line for line in lines)


# --- the file is what was reviewed -----------------------------------------------------------------------


def test_an_edited_plan_file_fails_its_checksum(specs: Path, estate: Path) -> None:
    saved = _save(specs, estate)
    document = _document(saved)
    _change(document, VM02)["after"]["startup"] = 16384
    _rewrite(saved, document, reseal=False)
    before = estate_snapshot(estate)
    result = _apply(saved, estate, "--allow-disruption")
    assert result.exit_code == 1, _out(result)
    assert "checksum" in _plain(result.stderr) and "run plan -o again" in _plain(result.stderr)
    assert estate_snapshot(estate) == before


def test_a_forged_spec_digest_does_not_let_edited_specs_through(specs: Path, estate: Path) -> None:
    """The reviewed plan gives VM02 4 GiB. The specs now say 16 GiB, and the file's specDigest (and checksum)
    were rewritten to match them: apply refuses, naming the value, and changes nothing."""
    saved = _save(specs, estate)
    edit_text(
        specs / "tenants" / "acmecorp.yaml",
        "memory: {dynamic: false, startup: 4GiB}",
        "memory: {dynamic: false, startup: 16GiB}",
    )
    now = json.loads(_run("plan", specs, "--json", "--estate", estate).stdout)
    document = _document(saved)
    document["specDigest"] = now["specDigest"]
    _rewrite(saved, document, reseal=True)
    before = estate_snapshot(estate)
    lines = _refused(_apply(saved, estate, "--allow-disruption"), "no longer produce the reviewed plan")
    assert any(line.startswith(f"~ {VM02}: ") and "startup 4096 -> 16384" in line for line in lines), lines
    assert estate_snapshot(estate) == before


def test_edited_values_with_a_recomputed_checksum_are_refused(specs: Path, estate: Path) -> None:
    saved = _save(specs, estate)
    document = _document(saved)
    _change(document, VM02)["after"]["startup"] = 16384
    _rewrite(saved, document, reseal=True)
    lines = _refused(_apply(saved, estate, "--allow-disruption"), "no longer produce the reviewed plan")
    assert any(line.startswith(f"~ {VM02}: startup 16384 -> 4096") for line in lines), lines


def test_a_plan_without_its_observed_versions_is_refused(specs: Path, estate: Path) -> None:
    """Removing observedVersion used to skip the live check."""
    saved = _save(specs, estate)
    document = _document(saved)
    del _change(document, VM02)["observedVersion"]
    _rewrite(saved, document, reseal=True)
    result = _apply(saved, estate, "--allow-disruption")
    assert result.exit_code == 1, _out(result)
    err = _plain(result.stderr)
    assert "observedVersion" in err and VM02 in err, err


def test_a_live_change_is_found_even_without_an_observed_version(specs: Path, estate: Path) -> None:
    """observedVersion null (a backend without versions), and the live object changed: the values say so."""
    saved = _save(specs, estate)
    document = _document(saved)
    _change(document, VM02)["observedVersion"] = None
    _rewrite(saved, document, reseal=True)

    def bigger(row: Any) -> None:
        row.data["maximum"] = 6144

    edit_row(estate, Address.parse(VM02), bigger)
    lines = _refused(_apply(saved, estate, "--allow-disruption"), "The live state changed since")
    assert any(line.startswith(f"~ {VM02}: maximum changed") for line in lines), lines


def test_an_unchanged_plan_still_applies_exactly(specs: Path, estate: Path) -> None:
    saved = _save(specs, estate)
    planned = {c["address"] for c in _document(saved)["changes"] if c["action"] != "noop" and not c["error"]}
    result = _apply(saved, estate, "--allow-disruption")
    assert result.exit_code == 0, _out(result)
    stepped = set(re.findall(r"^[✓=] \S+ (.+?)(?: \(\d| after \d|: |$)", _plain(result.stdout), re.MULTILINE))
    assert stepped == planned


# --- recognised by content -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["p.plan", "tfplan", "reviewed.txt"])
def test_a_plan_file_is_recognised_whatever_its_name(specs: Path, estate: Path, name: str) -> None:
    saved = _save(specs, estate, name)
    shown = _plain(_run("plan", specs, "-o", saved, "--estate", estate).stderr)
    assert f"reconciler apply {saved}" in shown  # what plan says to run works
    result = _apply(saved, estate)
    assert result.exit_code == 0, _out(result)
    assert f"Applying the saved plan {saved}" in _plain(result.stdout)


def test_a_yaml_spec_file_is_still_a_spec_file(specs: Path, estate: Path) -> None:
    result = _run("apply", specs / "tenants" / "acmecorp.yaml", "--yes", "--estate", estate)
    assert "not a reconciler plan" not in _out(result)
    assert "Applying the saved plan" not in _out(result)


# --- files nobody can apply -------------------------------------------------------------------------------


def test_a_deeply_nested_plan_file_is_a_clear_error(tmp_path: Path, estate: Path) -> None:
    nested = tmp_path / "nested.json"
    nested.write_text('{"formatVersion": 3, "changes": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    result = _run("apply", nested, "--yes", "--estate", estate)
    assert result.exit_code == 1, _out(result)
    err = _plain(result.stderr)
    assert "internal error" not in err and "RecursionError" not in err, err
    assert str(nested) in err and "plan" in err, err


def test_a_plan_of_an_older_format_is_refused_with_what_to_do(specs: Path, estate: Path) -> None:
    saved = _save(specs, estate)
    document = _document(saved)
    document["formatVersion"] = 2
    saved.write_text(json.dumps(document), encoding="utf-8")
    result = _apply(saved, estate)
    assert result.exit_code == 1, _out(result)
    assert "format version 2" in _plain(result.stderr) and "plan -o" in _plain(result.stderr)
