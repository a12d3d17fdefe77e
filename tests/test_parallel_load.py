"""Parsing in worker processes (``loader._parsed``) gives exactly what parsing here gives.

Every validation fixture is loaded twice, once in this process and once with the files parsed by two
forked workers (the file-count threshold lowered to 1), and everything the user sees is compared:
each diagnostic's code, message, file, line, column, field path, hint and related locations, and the
documents' data. Documents parsed by a worker come back without their marks, which are rebuilt from
the text on first use: positions must not change on the way."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.core.diagnostics import Diagnostic
from reconciler.core.memory import no_cyclic_gc
from reconciler.engine import expand
from reconciler.spec import loader, yamlsource
from reconciler.spec.loader import LoadResult, SpecDocument, load_paths
from tests.test_validate_fixtures import CASES, _lay_out

pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="worker processes are forked"
)


def _shown(d: Diagnostic) -> tuple[Any, ...]:
    where = (d.location.file, d.location.line, d.location.column)
    related = tuple((r.file, r.line, r.column) for r in d.related)
    return (d.code, d.message, where, d.path, d.hint, d.severity.value, related)


def _documents(result: LoadResult) -> dict[tuple[str, str], Any]:
    specs = result.specs
    tables: dict[str, dict[str, Any]] = {"Site": specs.sites, "Tenant": specs.tenants}
    tables |= {"MemoryProfile": specs.memory_profiles, "PowerProfile": specs.power_profiles}
    return {(kind, name): doc.model.model_dump() for kind, table in tables.items() for name, doc in table.items()}


def _all(result: LoadResult) -> list[SpecDocument[Any]]:
    specs = result.specs
    return [
        *specs.sites.values(),
        *specs.tenants.values(),
        *specs.memory_profiles.values(),
        *specs.power_profiles.values(),
    ]


def _positions(marks: dict[yamlsource.FieldPath, Any]) -> dict[yamlsource.FieldPath, tuple[int, int]]:
    return {path: (mark.line, mark.column) for path, mark in marks.items()}


def _load(paths: list[str], monkeypatch: pytest.MonkeyPatch, *, workers: str) -> LoadResult:
    monkeypatch.setenv("RECONCILER_LOAD_WORKERS", workers)
    monkeypatch.setattr(loader, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(loader, "_CHUNK_FILES", 1)  # several chunks even for a small case
    # Forked even if an earlier test left a thread behind (a fake server's, idle): these files are plain.
    monkeypatch.setattr(loader, "_may_fork", lambda: workers != "0")
    return load_paths(paths)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_workers_report_what_this_process_reports(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = yaml.safe_load((case / "expected.yaml").read_text())
    _lay_out(case, expected, tmp_path)
    for limit, value in expected.get("limits", {}).items():
        monkeypatch.setattr(yamlsource, limit, value)
    monkeypatch.chdir(tmp_path)
    paths = expected.get("paths", ["."])
    here = _load(paths, monkeypatch, workers="0")
    forked = _load(paths, monkeypatch, workers="2")
    assert not any(doc.source.secret_free for doc in _all(here)), "parsed here"
    if _all(here):
        assert all(doc.source.secret_free for doc in _all(forked)), "parsed (and scanned) by the workers"
    assert [_shown(d) for d in forked.diagnostics] == [_shown(d) for d in here.diagnostics]
    assert forked.specs.files == here.specs.files
    assert _documents(forked) == _documents(here)


def test_detached_documents_keep_every_position(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The marks a worker leaves behind come back identical, and so does every resource's source."""
    shipped = Path(__file__).parent.parent / "specs"
    here = _load([str(shipped)], monkeypatch, workers="0")
    forked = _load([str(shipped)], monkeypatch, workers="2")
    assert here.ok and forked.ok and len(forked.specs) == len(here.specs) > 3
    for name, doc in forked.specs.tenants.items():
        assert doc.source.text is not None, "a document from a worker travels without its marks"
        twin = here.specs.tenants[name].source
        assert _positions(doc.source.values) == _positions(twin.values)
        assert _positions(doc.source.keys) == _positions(twin.keys)
        assert doc.source.text is None, "rebuilt once, then the text is let go"
    with no_cyclic_gc():
        ours, theirs = expand.expand(forked.specs), expand.expand(here.specs)
    assert [str(r.source) for r in ours] == [str(r.source) for r in theirs]
    assert all(":" in str(r.source) for r in ours)


def test_a_secret_is_still_refused_when_a_worker_scanned_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's secret scan marks clean documents only: a document with a secret is scanned again here
    and refused with its position."""
    shipped = Path(__file__).parent.parent / "specs"
    for f in shipped.rglob("*.yaml"):
        target = tmp_path / f.relative_to(shipped)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f.read_text())
    site = next(tmp_path.rglob("sites/*.yaml"))
    text = site.read_text()
    site.write_text(text.replace("spec:\n", "spec:\n  adminPassword: planted-fake-value\n", 1))
    line = site.read_text().splitlines().index("  adminPassword: planted-fake-value") + 1
    result = _load([str(tmp_path)], monkeypatch, workers="2")
    found = [d for d in result.errors if d.code == "secret.field"]
    assert [(Path(d.location.file).name, d.location.line) for d in found] == [(site.name, line)]


def test_a_bad_worker_setting_is_an_error_that_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_LOAD_WORKERS", "many")
    result = load_paths([str(Path(__file__).parent.parent / "specs")])
    assert not result.ok
    [error] = result.errors
    assert error.location.file == "RECONCILER_LOAD_WORKERS" and "'many'" in error.message and error.hint


_REAL_PARSE_CHUNK = loader._parse_chunk


def _dying_parse_chunk(chunk: list[tuple[Path, str]]) -> list[loader.Parsed]:
    """A worker that dies (as one killed by the kernel for memory would) on the chunk holding a tenant."""
    if any(display.endswith("acmecorp.yaml") for _, display in chunk):
        os._exit(9)
    return _REAL_PARSE_CHUNK(chunk)


def test_a_worker_that_dies_leaves_the_rest_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = str(Path(__file__).parent.parent / "specs")
    here = _load([shipped], monkeypatch, workers="0")
    monkeypatch.setattr(loader, "_parse_chunk", _dying_parse_chunk)
    survived = _load([shipped], monkeypatch, workers="2")
    assert survived.ok and [_shown(d) for d in survived.diagnostics] == [_shown(d) for d in here.diagnostics]
    assert _documents(survived) == _documents(here)
