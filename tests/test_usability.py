"""Small things a user hits (issue #13, section 7): usage errors have their own exit code, ``estate show``
reads well when piped, help shows metavars rather than Python types, a held step is printed once, and the
``watch.cycle`` log counts what the drift report counts.

Commands run in-process through typer's ``CliRunner`` in ``tmp_path`` (a temporary estate and store, no
audit file)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from reconciler.cli.app import app
from reconciler.cli.group import USAGE_EXIT
from reconciler.core.addresses import Address
from reconciler.providers.embedded import seed
from reconciler.providers.embedded.store import EstateStore, Row
from reconciler.runs import clock
from tests.helpers import EMBEDDED_ENV, SPECS, WEEKDAY_NOON, applied_estate, edit_row, init_estate, isolate, out
from tests.helpers import run as _run

POLICY = Address("asr.replication_policy", "acmecorp", "AcmeCorp-Policy")
MAPPING = Address("asr.network_mapping", "fabrikam", "BlueNetwork")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch, unset=(seed.ENV_ESTATE_DB, clock.TEST_NOW_ENV, *EMBEDDED_ENV), audit_log="-")


@pytest.mark.parametrize(
    "args",
    [
        ("drift", "--fromat", "json"),  # an unknown option
        ("dirft", "specs"),  # an unknown command
        ("estate", "shw"),  # an unknown subcommand
        ("plan", "--concurrency", "3"),  # an option of another command
        ("apply", "--concurrency", "0"),  # out of range
        ("history", "--kind", "delete"),  # not a choice
        ("--log-format", "xml", "plan"),
    ],
)
def test_a_usage_error_exits_64_never_2_which_means_drift_found(args: tuple[str, ...]) -> None:
    """``reconciler drift ... || [ $? -eq 2 ]`` (docs/scheduling.md) must not hide a typo."""
    result = _run(*args)
    assert result.exit_code == USAGE_EXIT == 64, out(result)
    assert "Usage:" in out(result)


def test_force_unlock_without_scopes_is_a_usage_error() -> None:
    result = _run("force-unlock")
    assert result.exit_code == USAGE_EXIT, out(result)


def _commands() -> list[tuple[str, ...]]:
    """Every command path: ("plan",), ("estate", "show"), ..."""
    root = typer.main.get_command(app)
    found: list[tuple[str, ...]] = [()]
    for name, command in getattr(root, "commands", {}).items():
        found.append((name,))
        found += [(name, sub) for sub in getattr(command, "commands", {})]
    return found


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c) or "reconciler")
def test_help_shows_metavars_not_python_types(command: tuple[str, ...]) -> None:
    result = _run(*command, "--help")
    assert result.exit_code == 0, out(result)
    text = out(result)
    assert not re.search(r"<[a-z_\[\]| ]+>", text), text  # <path>, <list[Path]>, <str>, <int range>
    assert not re.search(r"\{[A-Za-z_]+\}", text), text  # {run_id}


def test_estate_show_piped_prints_one_line_per_object(tmp_path: Path) -> None:
    """Not a terminal (``CliRunner``): a folded table was 656 lines for 41 objects at 80 columns."""
    estate = init_estate(tmp_path / "estate.db")
    objects = len(seed.read_estate_file(seed.default_estate_file()))
    result = _run("estate", "show", "--estate", estate)
    assert result.exit_code == 0, out(result)
    lines = result.stdout.splitlines()
    assert len(lines) == objects + 1, result.stdout  # a header, then one line per object
    assert not re.search("[\u2500-\u257f]", result.stdout)  # no box drawing
    line = next(x for x in lines if x.startswith("hyperv.vm_memory:acmecorp/VM01 data="))
    assert '"startup": ' in line and '"powerState": "Running"' in line


def test_a_held_step_is_printed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On stdout as a step line and in the summary's count; the console log (stderr) does not repeat it."""
    monkeypatch.setenv(clock.TEST_NOW_ENV, WEEKDAY_NOON)  # the maintenance window is closed: BIOS is held
    estate = init_estate(tmp_path / "estate.db")
    result = _run("apply", SPECS, "--yes", "--estate", estate)
    assert result.exit_code == 0, out(result)
    held = re.findall(r"^‖ \S+ (\S+): held", result.stdout, re.MULTILINE)
    assert held
    for address in held:
        assert address not in result.stderr, result.stderr


def _json_events(stderr: str, name: str) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [e for e in events if e.get("event") == name]


def test_the_watch_cycle_log_uses_the_reports_counts(tmp_path: Path) -> None:
    """One drifted and one missing object: the log must not call both "drifted" while the report says 1."""
    estate = applied_estate(tmp_path / "estate.db", SPECS, "--allow-disruption")

    def slower(row: Row) -> None:
        row.data["replicationIntervalSeconds"] = 300

    edit_row(estate, POLICY, slower)
    store = EstateStore(estate)
    try:
        store.delete(MAPPING)
    finally:
        store.close()
    result = _run("--log-format", "json", "watch", SPECS, "--once", "--estate", estate)
    assert result.exit_code == 2, out(result)
    (cycle,) = _json_events(result.stderr, "watch.cycle")
    counts = cycle["counts"]
    assert counts["drifted"] == 1 and counts["missing"] == 1, counts
    for key, value in cycle.items():
        if key in counts:  # a field named like a drift class says what the report says
            assert value == counts[key], (key, cycle)
