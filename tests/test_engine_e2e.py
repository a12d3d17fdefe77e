"""plan, apply and estate end to end through the CLI, against a throwaway embedded estate.

Every command runs in-process through typer's ``CliRunner`` on a temporary estate (``--estate`` or
``RECONCILER_ESTATE``; the working directory is ``tmp_path`` so the repository's ``.reconciler/`` is never
touched), plus one real ``python -m reconciler`` subprocess for plan/apply/plan. No output may hold a
traceback: ``_run`` checks every invocation.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.core.changes import PLAN_FORMAT_VERSION
from reconciler.providers.embedded import seed
from tests.helpers import EMBEDDED_ENV, ROOT, SPECS, copy_specs, init_estate, isolate
from tests.helpers import edit_text as _edit
from tests.helpers import estate_snapshot as _snapshot
from tests.helpers import json_document as _json
from tests.helpers import out as _out
from tests.helpers import pending as _pending
from tests.helpers import pending_addresses as _pending_addresses
from tests.helpers import plain as _plain
from tests.helpers import plan_json as _plan_json
from tests.helpers import run as _run

FIXTURES = ROOT / "tests" / "fixtures" / "engine"
STEP = re.compile(r"^[✓=✗-] (create|update|replace|delete) ", re.MULTILINE)
SUMMARY = re.compile(r"Plan: (\d+) to create, (\d+) to update, (\d+) to replace, (\d+) to delete; (\d+) unchanged")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in tmp_path with no estate configured and no injected faults."""
    isolate(tmp_path, monkeypatch, unset=(seed.ENV_ESTATE_DB, *EMBEDDED_ENV), database=None)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A fresh estate, reset from the shipped estate file."""
    return init_estate(tmp_path / "estate.db")


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    """A private copy of the example specs that a test may edit."""
    return copy_specs(tmp_path)


# --- plan --------------------------------------------------------------------------------------------


def test_plan_on_a_fresh_estate_shows_creates_updates_and_the_summary(tmp_path: Path) -> None:
    db = tmp_path / "estate.db"
    result = _run("plan", SPECS, "--estate", db)
    out = _out(result)
    assert result.exit_code == 0, out
    assert "No embedded estate yet: created" in _plain(result.stderr)
    assert db.exists()
    assert "site contoso-west" in out
    assert "tenant acmecorp" in out
    assert "tenant fabrikam" in out
    assert "+ logical network Provider Address" in out
    assert "~ VMM cloud AcmeCorp Cloud" in out
    assert 'logicalNetworks: [] → ["Provider Address"]' in out
    assert "~ BIOS settings HV01.contoso.int" in out
    assert "attributes.SysProfile: PerfPerWattOptimizedDapc → PerfOptimized" in out
    assert "⚠ disruptive:" in out
    summary = SUMMARY.search(out)
    assert summary is not None, out
    counts = _plan_json(SPECS, db)["summary"]
    assert int(summary[1]) == counts["create"] > 0
    assert int(summary[2]) == counts["update"] > 0
    assert "No changes" not in out


def test_detailed_exitcode_is_2_when_something_would_change(db: Path) -> None:
    result = _run("plan", SPECS, "--detailed-exitcode", "--estate", db)
    assert result.exit_code == 2, _out(result)
    assert SUMMARY.search(_out(result))


def test_plan_json_and_the_saved_plan_file(db: Path, tmp_path: Path) -> None:
    saved = tmp_path / "out" / "plan.json"
    result = _run("plan", SPECS, "--json", "-o", saved, "--estate", db)
    assert result.exit_code == 0, _out(result)
    document = _json(result)
    assert document["formatVersion"] == PLAN_FORMAT_VERSION
    assert document["specDigest"]
    assert document["specPaths"] == [str(SPECS)]
    changes = document["changes"]
    assert changes
    for change in changes:
        assert {"address", "action", "fields", "kind", "scope", "name", "dependsOn"} <= change.keys()
    summary = document["summary"]
    for action in ("create", "update", "replace", "delete", "noop"):
        assert summary[action] == sum(1 for c in changes if c["action"] == action), action
    assert summary["error"] == 0
    by_address = {c["address"]: c for c in changes}
    assert by_address["vmm.logical_network:contoso-west/Provider Address"]["action"] == "create"
    assert by_address["vmm.logical_network:contoso-west/Provider Address"]["actionReason"] == "create"
    cloud = by_address["vmm.cloud:acmecorp/AcmeCorp Cloud"]
    assert cloud["action"] == "update"
    assert cloud["actionReason"] == "update"
    assert {"path": "logicalNetworks", "old": [], "new": ["Provider Address"], "immutable": False} in cloud["fields"]
    assert by_address["asr.vault:contoso-west/WAPRecoveryVault"]["action"] == "noop"
    # -o writes the same document the same command printed.
    assert json.loads(saved.read_text(encoding="utf-8")) == document
    assert sorted(p.name for p in saved.parent.iterdir()) == ["plan.json"], "written aside, then renamed"
    assert "Saved the plan to" in _plain(result.stderr)


def test_plan_summary_counts_what_the_full_plan_lists(db: Path) -> None:
    result = _run("plan", SPECS, "--summary", "--estate", db)
    out = _out(result)
    assert result.exit_code == 0, out
    assert "~ VMM cloud AcmeCorp Cloud" not in out and "logicalNetworks:" not in out, "counts, not changes"
    changes = _plan_json(SPECS, db)["changes"]
    columns = ("create", "update", "replace", "delete", "disruptive", "unchanged")

    def tally(selected: list[dict[str, Any]]) -> dict[str, int]:
        counts = dict.fromkeys(columns, 0)
        for c in selected:
            if c["action"] == "noop":
                counts["unchanged"] += c["noopReason"] not in ("blocked", "not-declared")
            else:
                counts[c["action"]] += 1
                counts["disruptive"] += bool(c["disruptive"])
        return counts

    rows = {
        m[1]: dict(zip(columns, map(int, m[2].split()), strict=True))
        for m in re.finditer(r"^((?:site |tenant )?[\w.-]+) +((?:\d+ +){5}\d+)$", out, re.MULTILINE)
    }
    kinds = {c["kind"] for c in changes}
    assert {k: rows[k] for k in kinds} == {k: tally([c for c in changes if c["kind"] == k]) for k in kinds}
    for tenant in ("acmecorp", "fabrikam"):  # both have something to do on a fresh estate
        assert rows[f"tenant {tenant}"] == tally([c for c in changes if c["tenant"] == tenant]), tenant
    assert SUMMARY.search(out), out


# --- apply -------------------------------------------------------------------------------------------


def test_apply_converges_and_a_second_apply_changes_nothing(db: Path) -> None:
    pending = _pending_addresses(SPECS, db)
    result = _run("apply", SPECS, "--yes", "--allow-disruption", "--estate", db)
    out = _out(result)
    assert result.exit_code == 0, out
    steps = STEP.findall(out)
    assert len(steps) == len(pending)
    assert f"Apply complete: {len(pending)} done, 0 failed, 0 skipped." in out

    again = _run("plan", SPECS, "--detailed-exitcode", "--estate", db)
    assert again.exit_code == 0, _out(again)
    assert "No changes." in _out(again)

    second = _run("apply", SPECS, "--yes", "--allow-disruption", "--estate", db)
    assert second.exit_code == 0, _out(second)
    assert "No changes." in _out(second)
    assert not STEP.findall(_out(second))
    assert "Apply complete" not in _out(second)


def test_apply_summary_shows_counts_then_applies_everything(db: Path) -> None:
    pending = _pending_addresses(SPECS, db)
    result = _run("apply", SPECS, "--yes", "--allow-disruption", "--summary", "--estate", db)
    out = _out(result)
    assert result.exit_code == 0, out
    assert re.search(r"^tenant acmecorp +\d+", out, re.MULTILINE), out
    assert "logicalNetworks:" not in out, "counts, not field changes"
    assert len(STEP.findall(out)) == len(pending)
    assert f"Apply complete: {len(pending)} done, 0 failed, 0 skipped." in out
    converged = _out(_run("plan", SPECS, "--summary", "--estate", db))
    assert "no site or tenant has anything to do" in converged and "No changes." in converged
    assert not re.search(r"^(site|tenant) \S+ +\d", converged, re.MULTILINE), converged


def test_apply_without_yes_refuses_when_stdin_is_not_a_terminal(db: Path) -> None:
    before = _snapshot(db)
    result = _run("apply", SPECS, "--estate", db)
    assert result.exit_code == 1, _out(result)
    assert "Refusing to apply without --yes" in _plain(result.stderr)
    assert not STEP.findall(_out(result))
    assert _snapshot(db) == before
    plan = _run("plan", SPECS, "--detailed-exitcode", "--estate", db)
    assert plan.exit_code == 2, _out(plan)


def test_the_estate_can_come_from_the_environment(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(seed.ENV_ESTATE_DB, str(db))
    result = _run("apply", SPECS, "--yes", "--allow-disruption")
    assert result.exit_code == 0, _out(result)
    assert _run("plan", SPECS, "--detailed-exitcode").exit_code == 0
    assert _run("plan", SPECS, "--detailed-exitcode", "--estate", db).exit_code == 0
    assert not Path(".reconciler").exists()


# --- targeting ---------------------------------------------------------------------------------------


def test_target_a_tenant_plans_and_applies_it_and_what_it_needs(db: Path) -> None:
    document = _plan_json(SPECS, db, "--target", "tenant/acmecorp")
    assert document["targets"] == ["tenant/acmecorp"]
    changes = document["changes"]
    scopes = {c["scope"] for c in changes}
    assert scopes == {"acmecorp", "contoso-west"}
    # Site resources are there only because an acmecorp resource needs them.
    needed: set[str] = set()
    for c in changes:
        if c["scope"] == "acmecorp":
            needed.update(c["dependsOn"])
    closure = set(needed)
    by_address = {c["address"]: c for c in changes}
    stack = list(needed)
    while stack:
        for d in by_address.get(stack.pop(), {}).get("dependsOn", []):
            if d not in closure:
                closure.add(d)
                stack.append(d)
    site = {c["address"] for c in changes if c["scope"] == "contoso-west"}
    assert site <= closure
    assert "vmm.logical_network:contoso-west/Provider Address" in site
    assert "asr.vault:contoso-west/WAPRecoveryVault" in site
    assert not any(c["kind"] in ("bmc.bios", "host.power_policy", "vmm.logical_switch") for c in changes)

    result = _run("apply", SPECS, "--yes", "--allow-disruption", "--target", "tenant/acmecorp", "--estate", db)
    assert result.exit_code == 0, _out(result)
    assert _run("plan", SPECS, "--detailed-exitcode", "--target", "tenant/acmecorp", "--estate", db).exit_code == 0
    left = _pending_addresses(SPECS, db)
    assert any(":fabrikam/" in a for a in left)
    assert not any(":acmecorp/" in a for a in left)
    assert "vmm.logical_network:contoso-west/Provider Address" not in left
    assert "bmc.bios:contoso-west/HV01.contoso.int" in left


def test_exclude_a_tenant_leaves_it_unconverged(db: Path) -> None:
    planned = _pending_addresses(SPECS, db, "--exclude", "tenant/fabrikam")
    assert planned
    assert not any(":fabrikam/" in a for a in planned)
    result = _run("apply", SPECS, "--yes", "--allow-disruption", "--exclude", "tenant/fabrikam", "--estate", db)
    assert result.exit_code == 0, _out(result)
    left = _pending_addresses(SPECS, db)
    assert left
    assert all(":fabrikam/" in a for a in left), left


def test_exclude_a_kind_leaves_the_bios_untouched(db: Path) -> None:
    result = _run("apply", SPECS, "--yes", "--allow-disruption", "--exclude", "bmc.bios", "--estate", db)
    assert result.exit_code == 0, _out(result)
    assert "bmc.bios" not in _plain(result.stdout)  # stderr's apply.start log names the exclusion
    assert _pending_addresses(SPECS, db) == {f"bmc.bios:contoso-west/HV0{i}.contoso.int" for i in (1, 2, 3)}
    shown = _run("estate", "show", "--format", "json", "--kind", "bmc.bios", "--estate", db)
    bios = _json(shown)["objects"]
    assert len(bios) == 3
    for o in bios:
        assert o["data"]["attributes"]["SysProfile"] == "PerfPerWattOptimizedDapc"
        assert o["status"]["pending"] == {}


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_selector_that_matches_nothing_is_an_error(db: Path, command: str) -> None:
    before = _snapshot(db)
    result = _run(command, SPECS, "--target", "tenant/nobody", "--yes" if command == "apply" else "--json")
    assert result.exit_code == 1, _out(result)
    assert "--target/--exclude selected no resource" in _plain(result.stderr)
    assert result.stdout == ""
    assert _snapshot(db) == before


# --- a VM that does not exist ------------------------------------------------------------------------


@pytest.fixture
def ghost_specs(specs: Path) -> Path:
    """The examples plus a protected VM GHOST01 in acmecorp that the estate does not have."""
    _edit(
        specs / "tenants" / "acmecorp.yaml",
        "      memory: {dynamic: false, startup: 4GiB}\n",
        "      memory: {dynamic: false, startup: 4GiB}\n"
        "    - name: GHOST01\n"
        "      protect: true\n"
        "      osType: Windows\n"
        "      memoryProfile: web-dynamic\n",
    )
    assert _run("validate", specs).exit_code == 0
    return specs


def test_a_vm_that_does_not_exist_is_a_plan_error_and_apply_refuses(ghost_specs: Path, db: Path) -> None:
    result = _run("plan", ghost_specs, "--estate", db)
    out = _out(result)
    assert result.exit_code == 1, out
    assert re.search(r"error.*GHOST01.*does not exist", out), out
    assert "1 error in the plan" in out
    document = json.loads(_run("plan", ghost_specs, "--json", "--estate", db).stdout)
    assert document["summary"]["error"] == 1
    (error,) = [c for c in document["changes"] if c["error"]]
    assert error["name"] == "GHOST01"
    assert "does not exist" in error["error"]
    assert "acmecorp.yaml" in error["error"]  # where the VM is declared

    before = _snapshot(db)
    applied = _run("apply", ghost_specs, "--yes", "--allow-disruption", "--estate", db)
    assert applied.exit_code == 1, _out(applied)
    assert "nothing applied" in _out(applied)
    assert not STEP.findall(_out(applied))
    assert _snapshot(db) == before


def test_a_vm_that_does_not_exist_never_gets_a_create(ghost_specs: Path, db: Path) -> None:
    document = json.loads(_run("plan", ghost_specs, "--json", "--estate", db).stdout)
    ghost = [c for c in document["changes"] if c["name"] == "GHOST01"]
    assert ghost
    assert all(c["action"] != "create" for c in ghost), [(c["address"], c["action"]) for c in ghost]


# --- saved plans -------------------------------------------------------------------------------------


def test_apply_a_saved_plan(specs: Path, db: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    made = _run("plan", specs, "-o", saved, "--estate", db)
    assert made.exit_code == 0, _out(made)
    pending = {c["address"] for c in _pending(json.loads(saved.read_text(encoding="utf-8")))}
    result = _run("apply", saved, "--yes", "--allow-disruption", "--estate", db)
    out = _out(result)
    assert result.exit_code == 0, out
    assert f"Apply complete: {len(pending)} done, 0 failed, 0 skipped." in out
    assert _run("plan", specs, "--detailed-exitcode", "--estate", db).exit_code == 0
    # A saved plan was targeted when made: --target does not combine with it.
    refused = _run("apply", saved, "--yes", "--allow-disruption", "--target", "tenant/acmecorp", "--estate", db)
    assert refused.exit_code == 1, _out(refused)
    assert "do not apply to a saved plan" in _plain(refused.stderr)


def test_a_saved_plan_is_refused_after_the_specs_changed(specs: Path, db: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert _run("plan", specs, "-o", saved, "--estate", db).exit_code == 0
    _edit(specs / "tenants" / "acmecorp.yaml", "replicationIntervalSeconds: 900", "replicationIntervalSeconds: 300")
    before = _snapshot(db)
    result = _run("apply", saved, "--yes", "--allow-disruption", "--estate", db)
    assert result.exit_code == 1, _out(result)
    assert "The specs changed since" in _plain(result.stderr)
    assert "plan -o again" in _plain(result.stderr)
    assert not STEP.findall(_out(result))
    assert _snapshot(db) == before


def test_a_damaged_plan_file_is_refused(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text('{"hello": "world"}\n', encoding="utf-8")
    result = _run("apply", bad, "--yes", "--allow-disruption", "--estate", db)
    assert result.exit_code == 1, _out(result)
    assert "not a reconciler plan file" in _plain(result.stderr)


# --- invalid specs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_invalid_specs_stop_before_reading_the_estate(specs: Path, tmp_path: Path, command: str) -> None:
    _edit(specs / "tenants" / "acmecorp.yaml", "    policy:\n", "    polcy:\n")
    db = tmp_path / "never.db"
    result = _run(command, specs, "--estate", db, *(["--yes"] if command == "apply" else []))
    err = _plain(result.stderr)
    assert result.exit_code == 1, _out(result)
    assert re.search(r"acmecorp\.yaml:\d+:\d+: error\[schema\.unknown-field\] spec\.recovery\.polcy", err), err
    assert "did you mean 'policy'?" in err
    assert "nothing was read or changed" in err
    assert result.stdout == ""
    assert not db.exists()  # the estate was not even opened


# --- estate init / show ------------------------------------------------------------------------------


def test_estate_init_and_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # the text table folds long cells to the width of a non-terminal
    db = tmp_path / "estate.db"
    expected = len(seed.read_estate_file(seed.default_estate_file()))
    init = _run("estate", "init", "--estate", db)
    assert init.exit_code == 0, _out(init)
    assert f"reset from contoso-west.yaml: {expected} objects" in _out(init)

    text = _run("estate", "show", "--estate", db)
    assert text.exit_code == 0, _out(text)
    assert "embedded estate" in _out(text)
    for name in ("WAPRecoveryVault", "HV01.contoso.int", "AcmeCorp Cloud", "FAB-SQL01"):
        assert name in _out(text)

    as_yaml = yaml.safe_load(_run("estate", "show", "--format", "yaml", "--estate", db).stdout)
    assert as_yaml["kind"] == "Estate"
    assert len(as_yaml["objects"]) == expected
    as_json = _json(_run("estate", "show", "-f", "json", "--estate", db))
    assert as_json == as_yaml

    memory = _json(_run("estate", "show", "-f", "json", "--kind", "hyperv.vm_memory", "--estate", db))["objects"]
    assert {o["name"] for o in memory} == {"VM01", "VM02", "FAB-WEB01", "FAB-SQL01"}
    fabrikam = _json(_run("estate", "show", "-f", "json", "--scope", "fabrikam", "--estate", db))["objects"]
    assert fabrikam
    assert {o["scope"] for o in fabrikam} == {"fabrikam"}
    both = _json(
        _run("estate", "show", "-f", "json", "--scope", "acmecorp", "--kind", "hyperv.vm_memory", "--estate", db)
    )["objects"]
    assert {o["name"] for o in both} == {"VM01", "VM02"}
    filtered_text = _out(_run("estate", "show", "--kind", "bmc.bios", "--estate", db))
    assert "bmc.bios" in filtered_text
    assert "hyperv.vm_memory" not in filtered_text


def test_estate_show_yaml_loads_back_with_init_from(db: Path, tmp_path: Path) -> None:
    assert _run("apply", SPECS, "--yes", "--allow-disruption", "--estate", db).exit_code == 0
    snapshot = tmp_path / "snapshot.yaml"
    snapshot.write_text(_run("estate", "show", "--format", "yaml", "--estate", db).stdout, encoding="utf-8")
    other = tmp_path / "other.db"
    result = _run("estate", "init", "--from", snapshot, "--estate", other)
    assert result.exit_code == 0, _out(result)
    assert _snapshot(other) == _snapshot(db)
    assert _run("plan", SPECS, "--detailed-exitcode", "--estate", other).exit_code == 0


def test_estate_init_from_a_broken_file_gives_positioned_diagnostics(db: Path) -> None:
    before = _snapshot(db)
    broken = FIXTURES / "broken-estate.yaml"
    result = _run("estate", "init", "--from", broken, "--estate", db)
    err = _plain(result.stderr)
    assert result.exit_code == 1, _out(result)
    assert f"{broken}:10:3: error[schema.unknown-field] objects[0].colour" in err
    assert f"{broken}:11:9: error[schema.invalid-format] objects[1].kind" in err
    assert "2 errors" in err
    assert _snapshot(db) == before  # the estate was not reset


def test_estate_init_from_a_file_with_a_yaml_error_or_a_duplicate(tmp_path: Path) -> None:
    syntax = tmp_path / "syntax.yaml"
    syntax.write_text("apiVersion: reconciler/v1\nkind: Estate\nobjects: [\n", encoding="utf-8")
    db = tmp_path / "estate.db"
    result = _run("estate", "init", "--from", syntax, "--estate", db)
    assert result.exit_code == 1, _out(result)
    assert re.search(rf"{re.escape(str(syntax))}:\d+:\d+: error\[yaml\.syntax\]", _plain(result.stderr))
    duplicate = FIXTURES / "duplicate-estate.yaml"
    result = _run("estate", "init", "--from", duplicate, "--estate", db)
    assert result.exit_code == 1, _out(result)
    assert f"{duplicate}:7:3: error[estate.duplicate]" in _plain(result.stderr)
    missing = _run("estate", "init", "--from", tmp_path / "nope.yaml", "--estate", db)
    assert missing.exit_code == 1
    assert "does not exist" in _plain(missing.stderr)
    assert not db.exists()


def test_estate_show_without_an_estate_says_how_to_make_one(tmp_path: Path) -> None:
    result = _run("estate", "show", "--estate", tmp_path / "missing.db")
    assert result.exit_code == 1, _out(result)
    assert "No embedded estate at" in _plain(result.stderr)
    assert "reconciler estate init" in _plain(result.stderr)


def test_a_bad_fault_setting_is_a_clean_error(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_EMBEDDED_FAULT_RATE", "lots")
    result = _run("plan", SPECS, "--estate", db)
    assert result.exit_code == 1, _out(result)
    assert "RECONCILER_EMBEDDED_FAULT_RATE='lots' is not a number" in _plain(result.stderr)


@pytest.mark.parametrize("value", ["0", "lots", "1000"])
def test_a_bad_read_concurrency_is_a_clean_error(db: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("RECONCILER_READ_CONCURRENCY", value)
    for command in ("plan", "drift"):
        result = _run(command, SPECS, "--estate", db)
        assert result.exit_code == 1, _out(result)
        assert f"RECONCILER_READ_CONCURRENCY={value!r}: use a whole number from 1 to 256" in _plain(result.stderr)


def test_one_read_at_a_time_plans_what_the_default_plans(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = _plan_json(SPECS, db)
    monkeypatch.setenv("RECONCILER_READ_CONCURRENCY", "1")
    serial = _plan_json(SPECS, db)
    assert [(c["address"], c["action"]) for c in serial["changes"]] == [
        (c["address"], c["action"]) for c in default["changes"]
    ]


def test_a_permanent_fault_from_the_environment_fails_a_tenant_and_a_rerun_converges(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_EMBEDDED_FAULT_ADDRESSES", "tenant/acmecorp")
    result = _run("apply", SPECS, "--yes", "--allow-disruption", "--estate", db)
    out = _out(result)
    assert result.exit_code == 1, out
    assert "Apply finished with failures" in out
    assert re.search(r"✗ vmm\.cloud:acmecorp/AcmeCorp Cloud: .*injected permanent fault", out), out
    assert re.search(r"^- create asr\.protected_item:acmecorp/VM01: skipped: .* failed$", out, re.MULTILINE), out
    assert "✓ create asr.protected_item:fabrikam/FAB-WEB01" in out
    assert "Run apply again once the cause is fixed" in out
    monkeypatch.delenv("RECONCILER_EMBEDDED_FAULT_ADDRESSES")
    left = _pending_addresses(SPECS, db)
    assert left
    assert all(":acmecorp/" in a for a in left), left
    assert _run("apply", SPECS, "--yes", "--allow-disruption", "--estate", db).exit_code == 0
    assert _run("plan", SPECS, "--detailed-exitcode", "--estate", db).exit_code == 0


# --- the real entry point ----------------------------------------------------------------------------


def test_python_dash_m_plan_apply_plan(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in EMBEDDED_ENV}
    env[seed.ENV_ESTATE_DB] = str(tmp_path / "estate.db")
    env["NO_COLOR"] = "1"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
        return done

    first = run("plan", str(SPECS), "--detailed-exitcode")
    assert first.returncode == 2, first.stdout + first.stderr
    assert SUMMARY.search(_plain(first.stdout))
    applied = run("apply", str(SPECS), "--yes", "--allow-disruption")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete" in applied.stdout
    last = run("plan", str(SPECS), "--detailed-exitcode")
    assert last.returncode == 0, last.stdout + last.stderr
    assert "No changes." in last.stdout
    assert not (tmp_path / ".reconciler").exists()
