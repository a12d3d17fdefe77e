"""The parse cache (``spec.parse_cache``): a file loaded from the cache gives exactly what parsing it gives.

Every validation fixture is loaded three times, without a cache, into an empty cache and from the filled one, and
everything the user sees is compared: each diagnostic's code, message, file, line, column, field path, hint and
related locations, and the documents' data. A changed file misses, a file with a parse problem is never kept, and
an entry that cannot be read only costs the parse."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reconciler.spec import parse_cache, yamlsource
from reconciler.spec.loader import LoadResult, load_paths
from reconciler.spec.parse_cache import ParseCache
from tests.test_parallel_load import _all, _documents, _positions, _shown
from tests.test_validate_fixtures import CASES, _lay_out

SHIPPED = Path(__file__).parent.parent / "specs"


def _seen(result: LoadResult) -> tuple[object, ...]:
    return ([_shown(d) for d in result.diagnostics], result.specs.files, _documents(result))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_cached_parse_reports_what_a_parse_reports(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = yaml.safe_load((case / "expected.yaml").read_text())
    specs = tmp_path / "specs"
    specs.mkdir()
    _lay_out(case, expected, specs)
    for limit, value in expected.get("limits", {}).items():
        monkeypatch.setattr(yamlsource, limit, value)
    monkeypatch.chdir(specs)
    paths = expected.get("paths", ["."])
    cache = ParseCache(tmp_path / "cache")
    plain = load_paths(paths)
    filling = load_paths(paths, cache=cache)
    added = cache.added
    cached = load_paths(paths, cache=ParseCache(tmp_path / "cache"))
    assert _seen(filling) == _seen(plain)
    assert _seen(cached) == _seen(plain)
    assert added <= len(plain.specs.files)


def test_positions_come_back_from_the_text(tmp_path: Path) -> None:
    cache = ParseCache(tmp_path)
    parsed = load_paths([SHIPPED], cache=cache)
    assert cache.added == len(parsed.specs.files) > 3
    again = ParseCache(tmp_path)
    cached = load_paths([SHIPPED], cache=again)
    assert again.added == 0, "every file came from the cache"
    assert parsed.ok and cached.ok
    for name, doc in cached.specs.tenants.items():
        twin = parsed.specs.tenants[name].source
        assert doc.source.text is not None, "a cached document comes without its marks"
        assert _positions(doc.source.values) == _positions(twin.values)
        assert doc.source.start == twin.start
    assert all(doc.source.secret_free for doc in _all(cached))


def test_an_edited_file_is_parsed_again(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    site = specs / "site.yaml"
    site.write_text((SHIPPED / "sites").iterdir().__next__().read_text())
    load_paths([specs], cache=ParseCache(tmp_path / "cache"))
    site.write_text(site.read_text().replace("spec:\n", "spec:\n  adminPassword: planted-fake-value\n", 1))
    cache = ParseCache(tmp_path / "cache")
    result = load_paths([specs], cache=cache)
    assert [d.code for d in result.errors] == ["secret.field"]
    assert cache.added == 1


def test_a_file_with_a_parse_problem_is_not_kept(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "broken.yaml").write_text("apiVersion: reconciler/v1\nkind: [unclosed\n")
    cache = ParseCache(tmp_path / "cache")
    first = load_paths([specs], cache=cache)
    second = load_paths([specs], cache=cache)
    assert cache.added == 0
    assert [_shown(d) for d in second.diagnostics] == [_shown(d) for d in first.diagnostics]
    assert any(d.code == "yaml.syntax" for d in first.diagnostics)


def test_an_unreadable_entry_only_costs_the_parse(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    plain = load_paths([SHIPPED], cache=ParseCache(root))
    for entry in root.rglob("*.marshal"):
        entry.write_bytes(b"not marshal data")
    cache = ParseCache(root)
    assert _seen(load_paths([SHIPPED], cache=cache)) == _seen(plain)
    assert cache.added == len(plain.specs.files)


def test_where_the_cache_lives() -> None:
    assert parse_cache.cache_dir({"RECONCILER_CACHE_DIR": "off"}) is None
    assert parse_cache.cache_dir({"RECONCILER_CACHE_DIR": "/x/y"}) == Path("/x/y")
    assert parse_cache.cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/reconciler")
    assert parse_cache.cache_dir({}) == Path.home() / ".cache" / "reconciler"
