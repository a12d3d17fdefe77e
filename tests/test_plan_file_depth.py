"""A crafted plan file nested deeper than any plan is refused with a message, never an internal error:
``reports.plan_json.loads`` turns the JSON parser's RecursionError into a refusal, and ``from_dict``
refuses a file the parser did read but that nests deeper than ``MAX_DEPTH`` (which would exhaust the
recursion of whatever walks its values next)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.changes import PLAN_FORMAT_VERSION
from reconciler.providers.embedded import seed
from reconciler.reports import plan_json
from tests.helpers import EMBEDDED_ENV, SPECS, init_estate, isolate
from tests.helpers import out as _out
from tests.helpers import plain as _plain
from tests.helpers import run as _run


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch, unset=(seed.ENV_ESTATE_DB, *EMBEDDED_ENV), audit_log="-")


def _nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def _plan_text(after: str) -> str:
    """A well-formed plan file whose one change carries ``after`` (JSON text) as its value."""
    change = {"address": "vmm.cloud:acmecorp/AcmeCorp Cloud", "action": "noop", "after": "@@"}
    document: dict[str, Any] = {
        "formatVersion": PLAN_FORMAT_VERSION,
        "createdAt": "2026-01-01T00:00:00+00:00",
        "specDigest": "0" * 64,
        "specPaths": [str(SPECS)],
        "changes": [change],
    }
    return json.dumps(document).replace('"@@"', after)


def test_a_file_too_deep_for_the_parser_is_refused() -> None:
    with pytest.raises(plan_json.PlanFormatError, match="nested deeper than 64 levels"):
        plan_json.loads(_plan_text(_nested(100_000)))


def test_a_file_deeper_than_any_plan_is_refused_after_parsing() -> None:
    data = plan_json.loads(_plan_text(_nested(900)))  # the parser copes with this much
    with pytest.raises(plan_json.PlanFormatError, match=r"nested deeper than 64 levels \(903 levels\)"):
        plan_json.from_dict(data)


def test_a_plan_as_deep_as_real_plans_still_reads() -> None:
    plan, paths = plan_json.from_dict(plan_json.loads(_plan_text(_nested(50))))
    assert len(plan.changes) == 1 and paths == [str(SPECS)]


def test_text_that_is_not_json_is_refused() -> None:
    with pytest.raises(plan_json.PlanFormatError, match="not JSON"):
        plan_json.loads("{")


def test_apply_refuses_a_deep_plan_file_with_a_message(tmp_path: Path) -> None:
    estate = init_estate(tmp_path / "estate.db")
    crafted = tmp_path / "crafted.json"
    crafted.write_text(_plan_text(_nested(900)), encoding="utf-8")
    result = _run("apply", crafted, "--yes", "--estate", estate)
    assert result.exit_code == 1, _out(result)
    assert "nested deeper than 64 levels" in _plain(result.stderr)
    assert "internal error" not in _out(result)


def test_apply_refuses_a_plan_file_too_deep_for_the_parser(tmp_path: Path) -> None:
    estate = init_estate(tmp_path / "estate.db")
    crafted = tmp_path / "crafted.json"
    crafted.write_text(_plan_text(_nested(100_000)), encoding="utf-8")
    result = _run("apply", crafted, "--yes", "--estate", estate, allow_traceback=True)
    assert result.exit_code == 1, _out(result)
    assert "nested deeper than 64 levels" in _plain(result.stderr)
