"""The history store: its migrations, its tables (runs, steps, last_applied) and what apply records there,
read back by ``reconciler history`` and ``reconciler show``.

Everything runs in ``tmp_path`` (working directory, ``RECONCILER_DATABASE_URL``, the embedded estate)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, Table, create_engine, inspect, select
from sqlalchemy import text as text_sql
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner, Result

from reconciler.cli.app import app
from reconciler.core.redact import MASK
from reconciler.engine import applier
from reconciler.runs import run_history
from reconciler.store import db, history
from reconciler.store.db import Store, open_store
from reconciler.store.locks import locks_table
from tests.helpers import COLOUR as ANSI
from tests.helpers import EMBEDDED_ENV, ROOT, SPECS, WEEKDAY_NOON, isolate, pin_clock
from tests.helpers import run as _run

TABLES = {"alembic_version", "locks", "runs", "steps", "last_applied", "reports", "ownership", "procedures"}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch, unset=EMBEDDED_ENV, estate="estate.db")


def _apply(*extra: str) -> Result:
    return _run("apply", SPECS, "--yes", *extra)


def _version(store: Store) -> str | None:
    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


# --------------------------------------------------------------------------------------------- migrations


def test_migrations_upgrade_a_fresh_store_and_are_idempotent(store_url: str) -> None:
    url = store_url
    head = ScriptDirectory.from_config(db.alembic_config()).get_heads()
    assert head == ["0007"] == [db.HEAD_REVISION]  # one line of revisions, its head known without Alembic
    with open_store(url) as opened:
        assert set(inspect(opened.engine).get_table_names()) == TABLES
        assert _version(opened) == "0007"
        assert {ix["name"] for ix in inspect(opened.engine).get_indexes("runs")} == {"ix_runs_kind"}
        history.record_run_start("r1", kind="apply", user="u", host="h", store=opened)
        db.upgrade(opened.engine)  # again: nothing to do, nothing lost
        db.upgrade(opened.engine)
        assert _version(opened) == "0007"
        assert [r.id for r in history.list_runs(store=opened)] == ["r1"]
    with open_store(url) as again:
        assert set(inspect(again.engine).get_table_names()) == TABLES
        assert [r.id for r in history.list_runs(store=again)] == ["r1"]


def test_a_store_at_the_head_opens_without_alembic(store_url: str) -> None:
    open_store(store_url).close()  # migrated here
    probe = (
        "import sys; from reconciler.store.db import open_store; open_store().close(); print('alembic' in sys.modules)"
    )
    opened = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert opened.stdout.strip() == "False", opened.stderr


def test_a_store_made_before_migrations_is_adopted(store_url: str) -> None:
    """Stores created by ``create_all`` (locks only, no alembic_version) upgrade without losing a lock."""
    url = store_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    legacy = Table(  # the locks table as create_all made it then
        "locks",
        MetaData(),
        *[Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable) for c in locks_table.columns][:7],
    )
    legacy.create(engine)
    with engine.begin() as conn:
        conn.execute(
            legacy.insert(),
            {
                "scope": "site/x",
                "holder": "a@b",
                "pid": 1,
                "host": "b",
                "acquired_at": "2025-01-01T00:00:00+00:00",
                "command": "",
                "token": "t",
            },
        )
    engine.dispose()
    with open_store(url) as opened:
        assert _version(opened) == "0007"
        assert set(inspect(opened.engine).get_table_names()) == TABLES
        with opened.engine.connect() as conn:
            assert conn.execute(locks_table.select()).mappings().one()["scope"] == "site/x"


def test_the_models_and_the_migrations_agree(store_url: str) -> None:
    """A table or column added to ``metadata`` without a migration (or the reverse) fails here."""
    with open_store(store_url) as opened, opened.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(context, db.load_tables()) == []


def test_downgrade_to_base_and_up_again(store_url: str) -> None:
    with open_store(store_url) as opened:
        from alembic import command

        with opened.engine.begin() as conn:
            command.downgrade(db.alembic_config(conn), "base")
        assert set(inspect(opened.engine).get_table_names()) == {"alembic_version"}
        db.upgrade(opened.engine)
        assert set(inspect(opened.engine).get_table_names()) == TABLES


def test_the_migrations_ship_in_the_package() -> None:
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"reconciler.store.migrations" = ["*.py", "versions/*.py"]' in config
    assert db.MIGRATIONS.is_relative_to(ROOT / "reconciler")
    assert (db.MIGRATIONS / "env.py").is_file()
    assert len(list((db.MIGRATIONS / "versions").glob("r0*.py"))) == 7


# --------------------------------------------------------------------------------------------- the store API


def test_record_and_read_back_a_run(store: Store) -> None:
    history.record_run_start("a1", kind="apply", user="ops", host="jump", spec_digest="d", store=store)
    running = history.get_run("a1", store=store)
    assert running is not None and running.result is None and running.finished_at is None and running.steps == ()
    history.record_step("a1", address="k:s/x", action="create", result="done", duration_s=0.5, store=store)
    history.record_step("a1", address="k:s/y", action="update", result="failed", message="no", store=store)
    history.record_run_end("a1", result="failed", counts={"done": 1, "failed": 1}, duration_s=2.0, store=store)
    history.record_applied("k:s/x", {"name": "x", "size": 1}, "a1", store=store)
    history.record_applied("k:s/x", {"name": "x", "size": 2}, "a1", store=store)  # replaces
    run = history.get_run("a1", store=store)
    assert run is not None
    assert (run.result, run.counts, run.duration_s, run.spec_digest) == ("failed", {"done": 1, "failed": 1}, 2.0, "d")
    assert [(s.address, s.result, s.message) for s in run.steps] == [("k:s/x", "done", ""), ("k:s/y", "failed", "no")]
    applied = history.last_applied(["k:s/x", "k:s/never"], store=store)
    assert list(applied) == ["k:s/x"] and applied["k:s/x"].desired == {"name": "x", "size": 2}
    history.forget_applied("k:s/x", store=store)
    assert history.last_applied(["k:s/x"], store=store) == {}
    history.record_run_start("a2", kind="plan", user="ops", host="jump", store=store)
    assert [r.id for r in history.list_runs(store=store)] == ["a2", "a1"]  # newest first
    assert [r.id for r in history.list_runs(1, store=store)] == ["a2"]
    assert history.get_run("nope", store=store) is None
    with pytest.raises(ValueError, match="result"):
        history.record_run_end("a2", result="maybe", counts={}, duration_s=0, store=store)
    with pytest.raises(ValueError, match="for a plan run"):
        history.record_run_end("a2", result="held", counts={}, duration_s=0, store=store)
    with pytest.raises(ValueError, match="kind"):
        history.record_run_start("a3", kind="watch", user="u", host="h", store=store)
    history.record_run_start("d1", kind="drift", user="ops", host="jump", store=store)
    history.record_report("d1", {"formatVersion": 1, "kind": "drift", "secret": "é"}, store=store)
    history.record_report("d1", {"formatVersion": 1, "kind": "drift", "n": 2}, store=store)  # replaces
    history.record_run_end("d1", result="drift", counts={"drifted": 1}, duration_s=0.1, store=store)
    assert history.get_report("d1", store=store) == {"formatVersion": 1, "kind": "drift", "n": 2}
    assert history.get_report("a1", store=store) is None
    assert [r.id for r in history.list_runs(kind="drift", store=store)] == ["d1"]
    assert [r.id for r in history.list_runs(kind="apply", store=store)] == ["a1"]


def _report_rows(store: Store) -> dict[str, tuple[str, bytes | None]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(history.reports_table.c.run_id, history.reports_table.c.document, history.reports_table.c.compressed)
        )
        return {r.run_id: (r.document, r.compressed) for r in rows}


def test_a_report_is_stored_compressed_and_a_row_from_before_still_reads(store: Store) -> None:
    document = {"formatVersion": 1, "kind": "plan", "changes": [{"address": f"k:s/n{i}", "n": i} for i in range(300)]}
    history.record_run_start("p1", kind="plan", user="u", host="h", store=store)
    history.record_report("p1", document, store=store)
    text, compressed = _report_rows(store)["p1"]
    assert text == "" and compressed is not None and len(compressed) < len(json.dumps(document)) / 5
    assert history.get_report("p1", store=store) == document
    # A row written before revision 0005: the document as text, nothing compressed.
    history.record_run_start("p0", kind="plan", user="u", host="h", store=store)
    with store.engine.begin() as conn:
        conn.execute(
            history.reports_table.insert(), {"run_id": "p0", "format_version": 1, "document": json.dumps(document)}
        )
    assert history.get_report("p0", store=store) == document


def test_only_the_newest_reports_are_kept_and_every_run_stays(store: Store) -> None:
    for i in range(5):
        history.record_run_start(f"r{i}", kind="drift", user="u", host="h", started_at=f"2026-01-0{i + 1}", store=store)
        history.record_report(f"r{i}", {"formatVersion": 1, "n": i}, store=store, keep=3)
    assert sorted(_report_rows(store)) == ["r2", "r3", "r4"]
    assert [history.get_report(f"r{i}", store=store) for i in (1, 4)] == [None, {"formatVersion": 1, "n": 4}]
    assert len(history.list_runs(store=store)) == 5  # the runs (when, who, result, counts) all stay
    history.record_run_start("r5", kind="plan", user="u", host="h", started_at="2026-01-06", store=store)
    history.record_report("r5", {"formatVersion": 1}, store=store, keep=0)
    assert _report_rows(store) == {}


def test_downgrading_puts_compressed_reports_back_as_text(store: Store) -> None:
    from alembic import command

    history.record_run_start("p1", kind="plan", user="u", host="h", store=store)
    history.record_report("p1", {"formatVersion": 1, "kind": "plan", "é": "ü"}, store=store)
    with store.engine.begin() as conn:
        command.downgrade(db.alembic_config(conn), "0004")
    with store.engine.connect() as conn:
        (text,) = conn.execute(text_sql("SELECT document FROM reports WHERE run_id = 'p1'")).one()
    assert json.loads(text) == {"formatVersion": 1, "kind": "plan", "é": "ü"}
    db.upgrade(store.engine)
    assert history.get_report("p1", store=store) == {"formatVersion": 1, "kind": "plan", "é": "ü"}


def test_the_number_of_reports_kept_comes_from_the_environment(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(run_history.REPORTS_KEPT_ENV, "2")
    for _ in range(3):
        assert _run("plan", SPECS).exit_code == 0
    oldest = history.list_runs(store=store)[-1]
    assert len(_report_rows(store)) == 2 and oldest.id not in _report_rows(store)
    shown = _run("show", oldest.id)
    assert shown.exit_code == 1
    assert "no stored report" in shown.output and run_history.REPORTS_KEPT_ENV in shown.output
    for bad in ("-1", "many", "2000000"):
        monkeypatch.setenv(run_history.REPORTS_KEPT_ENV, bad)
        refused = _run("plan", SPECS)
        assert refused.exit_code == 1 and run_history.REPORTS_KEPT_ENV in refused.output, refused.output
        assert "Traceback" not in refused.output
    assert len(history.list_runs(store=store)) == 3, "a refused run reads nothing and records nothing"


def test_spec_commit_is_git_head_or_none(tmp_path: Path) -> None:
    assert run_history.spec_commit([str(tmp_path)]) is None  # not a repository
    assert run_history.spec_commit([]) is None
    head = run_history.spec_commit([str(SPECS)])
    assert head is None or re.fullmatch(r"[0-9a-f]{40}", head)


# --------------------------------------------------------------------------------------------- apply records


def test_apply_records_runs_steps_and_last_applied(store: Store) -> None:
    first = _apply("--allow-disruption")
    assert first.exit_code == 0, first.output
    runs = history.list_runs(store=store)
    assert len(runs) == 1
    run = history.get_run(runs[0].id, store=store)
    assert run is not None
    assert (run.kind, run.result, run.spec_digest is not None, run.finished_at is not None) == (
        "apply",
        "ok",
        True,
        True,
    )
    done = [s for s in run.steps if s.result == "done"]
    assert done and len(run.steps) == len(done)  # one step per applied change, all done
    assert run.counts == {"done": len(done)}
    assert f"Apply complete: {len(done)} done" in ANSI.sub("", first.output)
    assert len({s.address for s in run.steps}) == len(run.steps)
    applied = history.last_applied([s.address for s in run.steps], store=store)
    assert set(applied) == {s.address for s in run.steps}
    assert {a.run_id for a in applied.values()} == {run.id}
    assert all(isinstance(a.desired, dict) and a.desired for a in applied.values())
    # The audit trail and the history name the same run.
    assert run.id in Path(os.environ["RECONCILER_AUDIT_LOG"]).read_text(encoding="utf-8")

    second = _apply("--allow-disruption")
    assert second.exit_code == 0, second.output
    runs = history.list_runs(store=store)
    assert len(runs) == 2 and runs[1].id == run.id
    again = history.get_run(runs[0].id, store=store)
    assert again is not None and again.result == "ok"
    assert all(s.result == "already-converged" for s in again.steps)  # here: none at all
    assert again.counts == {"already-converged": len(again.steps)} if again.steps else again.counts == {}

    # history and show, text and JSON
    listed = _run("history")
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split() == ["run", "started", "(UTC)", "kind", "user", "result", "duration", "counts"]
    assert lines[1].startswith(again.id) and lines[2].startswith(run.id)
    assert f"{len(done)} done" in lines[2] and " apply " in lines[2] and " ok " in lines[2]
    as_json = json.loads(_run("history", "--format", "json").output)
    assert [r["id"] for r in as_json] == [again.id, run.id]
    assert as_json[1]["counts"] == {"done": len(done)} and as_json[1]["result"] == "ok"
    assert [r["id"] for r in json.loads(_run("history", "--limit", "1", "-f", "json").output)] == [again.id]
    shown = _run("show", run.id)
    assert shown.exit_code == 0
    assert f"run       {run.id} (apply)" in shown.output and "result    ok" in shown.output
    for step in run.steps:
        assert step.address in shown.output
    detail = json.loads(_run("show", run.id, "--format", "json").output)
    assert detail["id"] == run.id and len(detail["steps"]) == len(run.steps)
    assert {s["result"] for s in detail["steps"]} == {"done"}
    missing = _run("show", "no-such-run")
    assert missing.exit_code == 1 and "no run 'no-such-run'" in missing.output


def test_a_held_apply_is_recorded_held(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    pin_clock(monkeypatch, WEEKDAY_NOON)  # outside the maintenance window
    result = _apply()  # without --allow-disruption: the VM memory and BIOS changes are held
    assert result.exit_code == 0, result.output
    (listed,) = history.list_runs(store=store)
    run = history.get_run(listed.id, store=store)
    assert run is not None and run.result == "held"
    assert run.counts is not None and run.counts["held"] > 0 and run.counts["done"] > 0
    held = {s.address for s in run.steps if s.result == "held"}
    assert {a.split(":")[0] for a in held} >= {"hyperv.vm_memory", "bmc.bios"}
    done = {s.address for s in run.steps if s.result == "done"}
    applied = history.last_applied([s.address for s in run.steps], store=store)
    assert set(applied) == done and not held & set(applied)  # nothing held counts as applied
    assert "held" in _run("history").output.splitlines()[1]


def test_last_applied_is_redacted(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A known secret that reaches a desired value is stored masked (here: a spec value that happens to
    equal a secret-named environment variable's value)."""
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "westus")
    assert _apply("--allow-disruption").exit_code == 0
    assert len(history.list_runs(store=store)) == 1
    with store.engine.connect() as conn:
        stored = [
            row[0]
            for row in conn.execute(
                history.last_applied_table.select().with_only_columns(history.last_applied_table.c.desired)
            )
        ]
    assert stored and not any("westus" in text for text in stored)
    assert any(MASK in text for text in stored)


def test_a_failing_history_write_does_not_fail_the_apply(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("INSERT INTO steps", {}, Exception("disk I/O error"))

    monkeypatch.setattr(history, "record_batch", broken)  # how an apply writes its steps
    result = _apply("--allow-disruption")
    assert result.exit_code == 0, result.output
    assert "history.write-failed" in result.output and "Apply complete" in result.output
    (run,) = history.list_runs(store=store)
    assert run.result == "ok"  # the run's end was still recorded


def test_an_unusable_store_stops_apply_before_any_change(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("INSERT INTO runs", {}, Exception("database is locked"))

    real = history.record_run_start
    monkeypatch.setattr(history, "record_run_start", broken)
    result = _apply("--allow-disruption")
    assert result.exit_code == 1
    assert "cannot record the run in the history store" in result.output
    monkeypatch.setattr(history, "record_run_start", real)
    plan = _run("plan", SPECS, "--detailed-exitcode")
    assert plan.exit_code == 2  # nothing was applied
    assert [r.kind for r in history.list_runs(store=store)] == ["plan"]  # the plan's run only


def test_an_interrupted_apply_is_recorded_interrupted(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    real = applier.apply_plan

    def interrupted(*args: Any, **kwargs: Any) -> applier.ApplyReport:
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(applier, "apply_plan", interrupted)
    result = CliRunner().invoke(app, ["apply", str(SPECS), "--yes", "--allow-disruption"])
    assert result.exit_code != 0
    (listed,) = history.list_runs(store=store)
    run = history.get_run(listed.id, store=store)
    assert run is not None and run.result == "interrupted" and run.finished_at is not None
    assert run.steps and all(s.result == "done" for s in run.steps)


def test_history_with_no_runs() -> None:
    assert _run("history").output.strip() == "No runs recorded yet."
    assert json.loads(_run("history", "-f", "json").output) == []


# --------------------------------------------------------------------------------------------- plan and drift runs


def _stored(run_id: str, store: Store) -> dict[str, Any]:
    document = history.get_report(run_id, store=store)
    assert document is not None
    return document


def test_plan_and_drift_record_runs_with_their_reports(store: Store) -> None:
    plan = _run("plan", SPECS, "--json")
    assert plan.exit_code == 0, plan.output
    (run,) = history.list_runs(store=store)
    assert (run.kind, run.result, run.finished_at is not None, run.duration_s is not None) == (
        "plan",
        "changes",
        True,
        True,
    )
    printed = json.loads(plan.stdout)
    assert _stored(run.id, store) == json.loads(json.dumps(printed))  # the document plan printed, as stored
    assert run.counts and sum(run.counts.values()) == len([c for c in printed["changes"] if c["action"] != "noop"])
    assert run.spec_digest == printed["specDigest"]

    assert _apply("--allow-disruption").exit_code == 0
    drift = _run("drift", SPECS)
    assert drift.exit_code == 0, drift.output
    latest = history.list_runs(1, store=store)[0]
    assert (latest.kind, latest.result) == ("drift", "in-sync")
    document = _stored(latest.id, store)
    assert document["kind"] == "drift" and document["counts"]["in-sync"] == document["counts"]["total"]
    assert latest.counts == {"in-sync": document["counts"]["total"]}

    again = _run("plan", SPECS, "--detailed-exitcode")
    assert again.exit_code == 0
    assert [r.kind for r in history.list_runs(store=store)] == ["plan", "drift", "apply", "plan"]
    assert history.list_runs(1, store=store)[0].result == "ok"
    listed = _run("history", "--kind", "drift").output.splitlines()
    assert len(listed) == 2 and listed[1].startswith(latest.id) and " drift " in listed[1]
    assert " in-sync " in listed[1]
    kinds = {r["kind"] for r in json.loads(_run("history", "-k", "plan", "-f", "json").output)}
    assert kinds == {"plan"}


def test_show_renders_a_stored_plan_and_drift_report_again(store: Store) -> None:
    plan = _run("plan", SPECS)
    assert plan.exit_code == 0
    (run,) = history.list_runs(store=store)
    text = ANSI.sub("", _run("show", run.id).stdout)
    assert text.strip() == ANSI.sub("", plan.stdout).strip()  # the same text as plan printed
    as_json = json.loads(_run("show", run.id, "--format", "json").output)
    assert as_json == _stored(run.id, store)

    assert _apply("--allow-disruption").exit_code == 0
    drift = _run("drift", SPECS)
    shown = _run("show", history.list_runs(1, store=store)[0].id)
    assert shown.exit_code == 0 and ANSI.sub("", shown.stdout).strip() == ANSI.sub("", drift.stdout).strip()
    drift_json = _run("drift", SPECS, "-f", "json")
    latest = history.list_runs(1, store=store)[0]
    assert json.loads(_run("show", latest.id, "-f", "json").output) == json.loads(drift_json.stdout)

    for fmt in ("markdown", "html"):
        other = _run("show", latest.id, "--format", fmt)
        available = importlib.util.find_spec(f"reconciler.reports.drift_{fmt}") is not None
        if available:
            assert other.exit_code == 0 and other.output.strip()
        else:
            assert other.exit_code == 1 and f"the {fmt} format is not available yet" in other.output
    apply_run = history.list_runs(kind="apply", store=store)[0]
    assert "not markdown" in _run("show", apply_run.id, "-f", "markdown").output


def test_a_drift_report_survives_the_json_round_trip(store: Store) -> None:
    """Drift findings (classes, fields, modes) come back from the stored document as they were."""
    from reconciler.reports import drift_json as drift_format

    drift = _run("drift", SPECS, "-f", "json")  # nothing applied yet: pending changes, with their fields
    assert drift.exit_code == 2
    document = _stored(history.list_runs(1, store=store)[0].id, store)
    assert document == json.loads(drift.stdout)
    assert any(r["fields"] for r in document["resources"])
    report, paths = drift_format.from_dict(document)
    assert drift_format.to_dict(report, spec_paths=paths) == document
    with pytest.raises(drift_format.DriftFormatError):
        drift_format.from_dict({"kind": "drift", "formatVersion": 99, "resources": []})
    with pytest.raises(drift_format.DriftFormatError):
        drift_format.from_dict({"kind": "plan"})


def test_a_store_that_cannot_be_written_does_not_fail_plan_or_drift(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("INSERT INTO reports", {}, Exception("disk I/O error"))

    monkeypatch.setattr(history, "record_report", broken)
    plan = _run("plan", SPECS, "--json", "--detailed-exitcode")
    assert plan.exit_code == 2
    assert "history.write-failed" in plan.stderr
    assert json.loads(plan.stdout)["changes"]  # the output is whole
    drift = _run("drift", SPECS, "-f", "json")
    assert drift.exit_code == 2 and "history.write-failed" in drift.stderr
    assert json.loads(drift.stdout)["kind"] == "drift"


def test_the_store_url_is_shown_without_its_password() -> None:
    shown = db.shown_url("postgresql+psycopg://ops:s3cret@db.example/reconciler")
    assert "s3cret" not in shown and shown.startswith("postgresql+psycopg://ops:***@db.example")


def test_an_apply_records_its_steps_in_batches_and_keeps_their_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Steps and applied state are written a batch at a time (here every 3 rows) and at the end; what is
    stored is what per-step writes would have stored: every step, and for each address the last thing
    that happened to it (applied, or deleted)."""
    from reconciler.core.addresses import Address
    from reconciler.core.changes import Action
    from reconciler.core.resources import Resource

    monkeypatch.setattr(run_history.RunHistory, "FLUSH_ROWS", 3)
    a, b, c = (Address("azure.resource_group", "acmecorp", n) for n in ("rg-a", "rg-b", "rg-c"))
    resources = {x: Resource(x, {"name": x.name, "password": "canary-pw-456"}) for x in (a, b, c)}
    for run_id in ("run-0", "run-1"):
        history.record_run_start(run_id, kind="apply", user="u", host="h", store=store)
    history.record_applied(str(c), {"name": "rg-c"}, "run-0", store=store)  # from an earlier run
    recorder = run_history.RunHistory(store, "run-1", resources)
    steps = [
        applier.StepResult(a, Action.CREATE, "done"),
        applier.StepResult(b, Action.CREATE, "failed", message="boom"),
        applier.StepResult(c, Action.DELETE, "done"),
        applier.StepResult(b, Action.CREATE, "done"),
        applier.StepResult(a, Action.DELETE, "done"),
    ]

    def stored() -> int:
        run = history.get_run("run-1", store=store)
        assert run is not None
        return len(run.steps)

    for step in steps[:4]:
        recorder.step(step)
    assert stored() == 4, "batches of 3 rows or more (a step and its applied state count 2) went out"
    recorder.step(steps[4])
    assert stored() == 4, "the last step waits for the next batch, or the end"
    recorder.end(applier.ApplyReport(results=steps))
    run = history.get_run("run-1", store=store)
    assert run is not None
    assert [(s.address, s.result) for s in run.steps] == [(str(s.address), s.status) for s in steps]
    applied = history.last_applied([str(a), str(b), str(c)], store=store)
    assert sorted(applied) == [str(b)]  # a created then deleted, c deleted: only b is applied now
    assert applied[str(b)].desired == {"name": "rg-b", "password": MASK} and applied[str(b)].run_id == "run-1"
