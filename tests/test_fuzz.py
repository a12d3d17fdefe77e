"""Property tests: no input, however broken, makes validation raise.

``validate`` promises every problem as a diagnostic and never a traceback. These tests feed the YAML
layer (``yamlsource.load_text``) and the whole loader (``loader.load_paths``) random text, random data
dumped as YAML, and the example specs damaged the way editors damage files (a line deleted, duplicated
or re-indented, two characters swapped). A second family starts from the example documents as data
and replaces, drops and adds fields, then checks that each diagnostic points at a well-formed field path
that exists in what was written, in the file that was read.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reconciler.core.diagnostics import Diagnostic
from reconciler.spec.loader import load_paths
from reconciler.spec.yamlsource import FieldPath, load_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_FILES = sorted((ROOT / "specs").rglob("*.yaml"))
EXAMPLE_TEXTS = [p.read_text(encoding="utf-8") for p in EXAMPLE_FILES]
EXAMPLE_DOCS: list[dict[str, Any]] = [doc for text in EXAMPLE_TEXTS for doc in yaml.safe_load_all(text)]

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CODE = re.compile(r"^[a-z]+\.[a-z]+(-[a-z]+)*$")
# ``format_path`` output: ``spec.vms[0].name``. Generated keys are identifiers, so this is exact.
FIELD_PATH = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*|\[\d+\])*$")
SEGMENT = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def _walk(value: Any, path: FieldPath = ()) -> Iterator[tuple[FieldPath, Any]]:
    """Every (path, value) below ``value``, containers included, root excluded."""
    items: list[tuple[str | int, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, child in items:
        yield (*path, key), child
        yield from _walk(child, (*path, key))


def _known_keys() -> list[str]:
    return sorted({str(path[-1]) for doc in EXAMPLE_DOCS for path, _ in _walk(doc) if isinstance(path[-1], str)})


def _example_leaves() -> list[Any]:
    leaves = {repr(v): v for doc in EXAMPLE_DOCS for _, v in _walk(doc) if not isinstance(v, dict | list)}
    return [leaves[k] for k in sorted(leaves)]


KNOWN_KEYS = _known_keys()
EXAMPLE_LEAVES = _example_leaves()

# YAML fragments that reach the loader's corners: anchors, aliases, merges, tags, flow and block
# collections, document markers, directives, quoting and the YAML 1.1 scalars it keeps as written.
TOKENS = [
    "a", "b", "kind", "spec", "apiVersion", "reconciler/v1", "Tenant", "Site", "metadata", "name",
    ":", ": ", "- ", "\n", "  ", "    ", "\t", "---\n", "...\n", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n",
    "&a ", "*a", "<<: ", "<<: *a", "? ", ", ", "{", "}", "[", "]", "'", '"', "|", ">-", "#", "!",
    "!!str ", "!!int ", "!!float ", "!!binary ", "!!set ", "!!omap ", "!!python/object:os.system ", "!Ref ",
    "02:00", "2026-01-01", "1_000", "0x1F", ".inf", ".nan", "~", "null", "yes", "On", "1e9", "\\", "\x00", "\ufeff",
    "é", "\u2028",
]  # fmt: skip


def _identifiers() -> st.SearchStrategy[str]:
    return st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}", fullmatch=True)


def _keys() -> st.SearchStrategy[str]:
    """Real field names (so wrong types reach the models), typos of them, and new identifiers."""
    typo = st.builds(_drop_char, st.sampled_from(KNOWN_KEYS), st.integers(0, 20)).filter(bool)
    return st.sampled_from(KNOWN_KEYS) | typo | _identifiers()


def _drop_char(word: str, i: int) -> str:
    return word[:i] + word[i + 1 :]


def _scalars() -> st.SearchStrategy[Any]:
    return (
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30) | st.sampled_from(EXAMPLE_LEAVES)
    )


def _values() -> st.SearchStrategy[Any]:
    return st.recursive(
        _scalars(),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys(), children, max_size=4),
        max_leaves=12,
    )


@st.composite
def _token_soup(draw: st.DrawFn) -> str:
    return "".join(draw(st.lists(st.sampled_from(TOKENS), max_size=60)))


@st.composite
def _damaged_example(draw: st.DrawFn) -> str:
    """An example spec file after one to four edits of the kinds editors and merges make, or a
    YAML fragment typed into it."""
    lines = draw(st.sampled_from(EXAMPLE_TEXTS)).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["delete", "duplicate", "indent", "dedent", "swap", "type"]))
        if edit == "delete":
            del lines[i]
        elif edit == "duplicate":
            lines.insert(i, lines[i])
        elif edit == "indent":
            lines[i] = " " * draw(st.integers(1, 5)) + lines[i]
        elif edit == "dedent":
            lines[i] = lines[i][draw(st.integers(1, 5)) :] if lines[i].startswith(" ") else lines[i]
        elif edit == "type":
            j = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:j] + draw(st.sampled_from(TOKENS)) + lines[i][j:]
        elif len(lines[i]) >= 2:
            j = draw(st.integers(0, len(lines[i]) - 2))
            lines[i] = lines[i][:j] + lines[i][j + 1] + lines[i][j] + lines[i][j + 2 :]
    return "".join(lines)


def _yaml_texts() -> st.SearchStrategy[str]:
    dumped = _values().map(lambda v: yaml.safe_dump(v, sort_keys=False, allow_unicode=True))
    return st.text() | _token_soup() | dumped | _damaged_example()


def _get(data: Any, path: FieldPath) -> Any:
    for part in path:
        data = data[part]
    return data


@st.composite
def _mutated_estate(draw: st.DrawFn) -> list[Any]:
    """The example documents, one of them with leaves replaced, keys dropped and keys added."""
    docs: list[Any] = copy.deepcopy(EXAMPLE_DOCS)
    index = draw(st.integers(0, len(docs) - 1))
    doc = docs[index]
    for _ in range(draw(st.integers(1, 6))):
        nodes = list(_walk(doc))
        edit = draw(st.sampled_from(["replace", "drop", "add"]))
        if edit == "replace":
            leaves = [p for p, v in nodes if not isinstance(v, dict | list)] or [p for p, _ in nodes]
            if leaves:
                path = draw(st.sampled_from(leaves))
                _get(doc, path[:-1])[path[-1]] = draw(_values())
        elif edit == "drop":
            keyed = [p for p, _ in nodes if isinstance(p[-1], str)]
            if keyed:
                path = draw(st.sampled_from(keyed))
                del _get(doc, path[:-1])[path[-1]]
        else:
            mappings = [(), *(p for p, v in nodes if isinstance(v, dict))]
            path = draw(st.sampled_from(mappings))
            _get(doc, path)[draw(_keys())] = draw(_values())
    return docs


def _check_well_formed(diagnostics: list[Diagnostic]) -> None:
    for d in diagnostics:
        assert d.code and CODE.match(d.code), d
        assert d.message.strip(), d
        assert d.location.file, d
        assert d.location.line >= 0 and d.location.column >= 0, d


def _parts(path: str) -> list[str | int]:
    return [int(index) if index else key for index, key in SEGMENT.findall(path)]


def _parent_exists(docs: list[Any], path: str) -> bool:
    """True when every segment of ``path`` but the last (which may name a missing field) exists in
    one of ``docs``."""
    parts = _parts(path)
    for doc in docs:
        try:
            _get(doc, tuple(parts[:-1]))
        except (KeyError, IndexError, TypeError):
            continue
        return True
    return False


@FUZZ
@given(text=_yaml_texts())
@example(text="!!int")  # an empty tagged number once escaped as IndexError
@example(text="a: !!float\n")
def test_load_text_never_raises(text: str) -> None:
    documents, diagnostics = load_text(text, "fuzz.yaml")
    _check_well_formed(diagnostics)
    assert all(d.location.file == "fuzz.yaml" for d in diagnostics)
    assert all(doc.file == "fuzz.yaml" for doc in documents)


@FUZZ
@given(text=_yaml_texts())
def test_load_paths_never_raises_on_text(text: str, tmp_path: Path) -> None:
    spec = tmp_path / "fuzz.yaml"
    spec.write_text(text, encoding="utf-8")
    result = load_paths([tmp_path])
    _check_well_formed(result.diagnostics)


@FUZZ
@given(raw=st.binary(max_size=200) | _damaged_example().map(lambda t: t.encode("utf-16")))
def test_load_paths_never_raises_on_bytes(raw: bytes, tmp_path: Path) -> None:
    spec = tmp_path / "fuzz.yaml"
    spec.write_bytes(raw)
    result = load_paths([spec])
    _check_well_formed(result.diagnostics)


@FUZZ
@given(docs=_mutated_estate())
def test_mutated_documents_point_at_what_was_written(docs: list[Any], tmp_path: Path) -> None:
    spec = tmp_path / "estate.yaml"
    spec.write_text(yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True), encoding="utf-8")
    result = load_paths([spec])
    _check_well_formed(result.diagnostics)
    lines = spec.read_text(encoding="utf-8").count("\n") + 1
    for d in result.diagnostics:
        assert Path(d.location.file).resolve() == spec.resolve(), d
        assert d.location.line <= lines, d
        if d.path:
            assert FIELD_PATH.match(d.path), d
            assert _parent_exists(docs, d.path), d


def test_unmutated_estate_is_valid(tmp_path: Path) -> None:
    """The baseline of the mutation test: the examples as one stream load with no error."""
    spec = tmp_path / "estate.yaml"
    spec.write_text(yaml.safe_dump_all(EXAMPLE_DOCS, sort_keys=False), encoding="utf-8")
    result = load_paths([spec])
    assert result.errors == []
    assert len(result.specs) == len(EXAMPLE_DOCS)
