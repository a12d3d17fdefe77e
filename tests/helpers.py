"""Helpers the test modules share: an isolated working directory and environment, the CLI run in-process
through typer's ``CliRunner``, its output without colour codes, fresh estates and spec copies, the JSON of
plan, drift and ``estate show``, and edits to a live estate or a spec file.

Plain functions: each module keeps thin fixtures around them, with its own differences (which variables it
clears, whether it sets the history store, the estate or the audit log) passed as arguments."""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from reconciler.cli.app import app
from reconciler.core import kinds as core_kinds
from reconciler.core.addresses import Address
from reconciler.core.errors import PermanentError
from reconciler.engine import expand
from reconciler.providers.base import HandlerProvider, HandlerTable
from reconciler.providers.embedded import seed
from reconciler.providers.embedded.store import EstateStore, Row
from reconciler.runs import clock
from reconciler.spec.loader import load_paths
from reconciler.store import db as store_db

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # every CSI escape sequence
COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # colour (SGR) sequences only
AUDIT_LOG = "RECONCILER_AUDIT_LOG"
# The shipped power profile's maintenance window is Sat/Sun 02:00 UTC for 4 h. A test whose outcome depends on
# it pins the time (``pin_clock``) instead of reading the wall clock.
WEEKDAY_NOON = "2026-12-09T12:00:00Z"  # a Wednesday: the window is closed
WEEKEND_3AM = "2026-12-05T03:00:00Z"  # a Saturday: the window is open
EMBEDDED_ENV = (
    "RECONCILER_EMBEDDED_LATENCY_MS",
    "RECONCILER_EMBEDDED_FAULT_RATE",
    "RECONCILER_EMBEDDED_FAULT_ADDRESSES",
    "RECONCILER_EMBEDDED_FAULT_SEED",
)


def isolate(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    unset: Iterable[str] = (),
    database: str | None = "state.db",
    estate: str | None = None,
    audit_log: str | None = None,
) -> None:
    """Run in ``tmp_path`` with every variable in ``unset`` removed; then, unless None, point
    ``$RECONCILER_DATABASE_URL`` at the SQLite file ``tmp_path/database``, ``$RECONCILER_ESTATE`` at
    ``tmp_path/estate``, and set ``$RECONCILER_AUDIT_LOG`` to ``audit_log`` (``"-"``: no audit file)."""
    monkeypatch.chdir(tmp_path)
    for name in unset:
        monkeypatch.delenv(name, raising=False)
    if database is not None:
        monkeypatch.setenv(store_db.ENV_DATABASE_URL, f"sqlite:///{tmp_path / database}")
    if estate is not None:
        monkeypatch.setenv(seed.ENV_ESTATE_DB, str(tmp_path / estate))
    if audit_log is not None:
        monkeypatch.setenv(AUDIT_LOG, audit_log)


def pin_clock(monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    """The commands the test runs go by a clock that started at ``when`` (ISO 8601), in-process or in a
    subprocess: the test-only ``RECONCILER_TEST_NOW`` (reconciler/runs/clock.py)."""
    monkeypatch.setenv(clock.TEST_NOW_ENV, when)


def run(*args: str | Path, allow_traceback: bool = False) -> Result:
    """The CLI in-process (``catch_exceptions=False``: a crash fails the test with its traceback); unless
    ``allow_traceback``, no output may hold a traceback either."""
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    if not allow_traceback:
        assert "Traceback" not in result.output, result.output
    return result


def plain(text: str, pattern: re.Pattern[str] = ANSI) -> str:
    """``text`` without the escape sequences ``pattern`` matches."""
    return pattern.sub("", text)


def out(result: Result) -> str:
    """stdout and stderr together, without escape sequences."""
    return plain(result.output)


def init_estate(path: Path) -> Path:
    """A fresh estate at ``path``, reset from the shipped estate file."""
    result = run("estate", "init", "--estate", path)
    assert result.exit_code == 0, out(result)
    return path


def applied_estate(path: Path, specs: Path = SPECS, *extra: str) -> Path:
    """A fresh estate at ``path`` with ``specs`` applied (disruptive steps allowed; ``extra`` options too)."""
    init_estate(path)
    applied = run("apply", specs, "--yes", "--allow-disruption", "--estate", path, *extra)
    assert applied.exit_code == 0, out(applied)
    return path


def copy_specs(tmp_path: Path) -> Path:
    """A private copy of the example specs in ``tmp_path/specs``, that a test may edit."""
    copy = tmp_path / "specs"
    shutil.copytree(SPECS, copy)
    return copy


def json_document(result: Result) -> dict[str, Any]:
    """The command's stdout, a JSON object."""
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


def plan_json(specs: Path, estate: Path, *extra: str) -> dict[str, Any]:
    """``plan --json`` of ``specs`` against ``estate``; it must succeed."""
    result = run("plan", specs, "--json", "--estate", estate, *extra)
    assert result.exit_code == 0, out(result)
    return json_document(result)


def pending(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The changes of a plan document that would do something (no noop, read or error)."""
    return [c for c in document["changes"] if c["action"] not in ("noop", "read") and not c["error"]]


def pending_addresses(specs: Path, estate: Path, *extra: str) -> set[str]:
    return {c["address"] for c in pending(plan_json(specs, estate, *extra))}


def estate_snapshot(estate: Path) -> dict[str, Any]:
    """The whole estate (``estate show --format json``), to prove a command changed nothing."""
    result = run("estate", "show", "--format", "json", "--estate", estate)
    assert result.exit_code == 0, out(result)
    return json_document(result)


def drift_as_json(specs: Path, estate: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    """``drift --format json``: its exit code (0 in sync, 2 drift) and its document."""
    result = run("drift", specs, "--format", "json", "--estate", estate, *extra)
    assert result.exit_code in (0, 2), out(result)
    return result.exit_code, json_document(result)


def edit_row(estate: Path, address: Address, change: Callable[[Row], None]) -> None:
    """Change a live object behind the tool's back."""
    store = EstateStore(estate)
    try:
        row = store.get(address)
        assert row is not None, address
        change(row)
        store.put(row)
    finally:
        store.close()


def edit_text(path: Path, old: str, new: str) -> None:
    """Replace ``old``, which must occur exactly once, by ``new`` in the file at ``path``."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} not found exactly once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def assert_one_handler_per_kind(provider: HandlerProvider, *, foreign: str) -> None:
    """A dispatcher's table: every kind the provider declares (and the registry routes to it) reaches one handler,
    no handler serves a kind it does not declare, each has its KindInfo, ``foreign`` has no handler, and two
    handlers for one kind are refused when the table is built."""
    served = Counter(kind for handler in provider.table.handlers for kind in handler.kinds)
    assert served == Counter(provider.kinds)
    assert provider.table.kinds == provider.kinds
    assert all(kind in provider.table[kind].kinds for kind in provider.kinds)
    assert provider.kinds <= set(core_kinds.KINDS)
    with pytest.raises(PermanentError, match=rf"no handler for {re.escape(foreign)}"):
        provider.table[foreign]
    some = sorted(provider.kinds)[0]
    with pytest.raises(ValueError, match=rf"{re.escape(some)} has two handlers"):
        HandlerTable(provider.name, [*provider.table.handlers, copy.copy(provider.table[some])])


def desired_fields(kinds: Iterable[str], specs: Path = SPECS) -> dict[str, frozenset[str]]:
    """The field names of each of ``kinds``' desired shape, as ``specs`` expand: what a normalizer must produce."""
    loaded = load_paths([specs])
    assert loaded.ok, "the example specs must load"
    wanted = set(kinds)
    fields: dict[str, set[str]] = {}
    for resource in expand.expand(loaded.specs):
        if resource.kind in wanted:
            fields.setdefault(resource.kind, set()).update(resource.desired)
    return {kind: frozenset(names) for kind, names in fields.items()}
