"""Safe YAML loading that remembers where every value came from.

Specs are plain data: this loader composes the YAML node graph (libyaml when available) and builds
Python values itself, so it can

- keep the line and column of every key and value (diagnostics point at ``file:line:column``),
- reject duplicate keys (PyYAML silently keeps the last one),
- reject every tag outside the YAML core schema (no ``!!python/object``),
- bound alias expansion, nesting depth and file size (a billion-laughs file yields a diagnostic in
  milliseconds instead of exhausting memory).

YAML 1.1 quirks that would silently change a value are neutralised: sexagesimal numbers (``02:00``)
and timestamps stay strings, exactly as written. Empty documents (a trailing ``---``) are skipped.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml

from reconciler.core.diagnostics import Diagnostic, Location

try:  # libyaml is several times faster; the pure-Python loader gives identical results.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

_RESOLVED: dict[tuple[str, bool], str] = {}


class _Loader(_BaseLoader):
    """Even with libyaml, PyYAML resolves each plain scalar's tag with Python regexes; specs repeat
    the same few values (true, Standard_GRS, All Hosts/West) endlessly, so remember the answers."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        key = (value, bool(implicit[0]))
        tag = _RESOLVED.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
            if len(_RESOLVED) > 100_000:
                _RESOLVED.clear()
            _RESOLVED[key] = tag
        return tag


FieldPath = tuple[str | int, ...]

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_NODES_PER_DOCUMENT = 200_000
MAX_DEPTH = 64

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null")}
_KEEP_AS_WRITTEN = {f"{_TAG}timestamp"}
_MAP_TAG = f"{_TAG}map"
_SEQ_TAG = f"{_TAG}seq"
_MERGE_TAG = f"{_TAG}merge"
_STR_TAG = f"{_TAG}str"
_NULLS = {"", "~", "null", "Null", "NULL"}
_constructor = yaml.constructor.SafeConstructor()


@dataclass
class SourceDocument:
    """One YAML document: its plain data plus the position of every key and value in it."""

    file: str
    index: int
    start: Location
    data: Any
    # Raw parser marks (0-based), turned into Locations only when a diagnostic needs one: a large
    # estate has hundreds of thousands of values and almost none of them is ever reported.
    keys: dict[FieldPath, Any] = field(default_factory=dict)
    values: dict[FieldPath, Any] = field(default_factory=dict)
    # A document parsed in a worker process travels without its marks (``detach``): they are most of
    # its size and almost never read. The text they are rebuilt from, on first use, comes instead.
    text: str | None = field(default=None, repr=False, compare=False)
    # Set where the secret scan already ran and found nothing (a worker process): not scanned twice.
    secret_free: bool = field(default=False, repr=False, compare=False)
    # Whether a key or string holds an unprintable character, noted while building (False: none does, and
    # the character check has nothing to walk; None: not known).
    unprintable: bool | None = field(default=None, repr=False, compare=False)

    def detach(self, text: str) -> None:
        """Drop the marks, keeping the text that holds them (shared by the file's documents)."""
        del self.keys, self.values
        self.text = text

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes that are not set: the marks of a detached document.
        if name in ("keys", "values") and self.__dict__.get("text") is not None:
            documents, _ = load_text(self.__dict__["text"], self.file)
            twin = next((d for d in documents if d.index == self.index), None)
            self.keys = twin.keys if twin is not None else {}
            self.values = twin.values if twin is not None else {}
            self.text = None
            return self.__dict__[name]
        raise AttributeError(name)

    def locate(self, path: FieldPath) -> Location:
        """Where the value at ``path`` was written, or the nearest enclosing value that exists."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return _loc(self.file, found)
        return self.start

    def locate_key(self, path: FieldPath) -> Location:
        """Where the key of ``path`` was written (falls back to :meth:`locate`)."""
        mark = self.keys.get(path)
        return _loc(self.file, mark) if mark is not None else self.locate(path)


class _Abort(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _loc(file: str, mark: Any) -> Location:
    if mark is None:
        return Location(file)
    return Location(file, mark.line + 1, mark.column + 1)


class _Builder:
    """Turns one composed node graph into plain values, recording positions and enforcing limits."""

    def __init__(self, doc: SourceDocument) -> None:
        self.doc = doc
        self.nodes = 0
        self.diagnostics: list[Diagnostic] = []
        self._active: set[int] = set()
        # An anchored node met again through an alias is built once and shared; its size still counts
        # towards the limit, so expansion bombs are caught without expanding them.
        self._built: dict[int, tuple[Any, int]] = {}

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        reused = self._built.get(id(node))
        if reused is not None:
            self.doc.values.setdefault(path, node.start_mark)
            self._count(reused[1], path, self._alias_site(path, node))
            return reused[0]
        before = self.nodes
        value = self._build(node, path)
        if not isinstance(node, yaml.ScalarNode):
            self._built[id(node)] = (value, self.nodes - before)
        return value

    def _alias_site(self, path: FieldPath, node: yaml.Node) -> Any:
        """Where an alias at ``path`` was written: the composed graph keeps the position of the anchored
        node only, so this is the nearest key on the path (the anchor when there is none)."""
        for end in range(len(path), 0, -1):
            found = self.doc.keys.get(path[:end])
            if found is not None:
                return found
        return node.start_mark

    def _at(self, mark: Any) -> Location:
        return _loc(self.doc.file, mark)

    def _count(self, n: int, path: FieldPath, mark: Any) -> None:
        self.nodes += n
        if self.nodes > MAX_NODES_PER_DOCUMENT:
            raise _Abort(
                Diagnostic(
                    code="yaml.too-large",
                    message=f"document expands to more than {MAX_NODES_PER_DOCUMENT:,} values (alias expansion?)",
                    location=self._at(mark),
                    path=_dotted(path),
                    hint="remove deeply nested aliases (*name); a spec should list its values plainly",
                )
            )

    def _build(self, node: yaml.Node, path: FieldPath) -> Any:
        location = node.start_mark
        self._count(1, path, location)
        if len(path) > MAX_DEPTH:
            raise _Abort(
                Diagnostic(
                    code="yaml.too-deep",
                    message=f"nesting deeper than {MAX_DEPTH} levels",
                    location=self._at(location),
                    hint="specs are shallow documents; check for a runaway structure",
                )
            )
        self.doc.values.setdefault(path, location)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path, location)
        if id(node) in self._active:
            self._recursive(path, self._alias_site(path, node))
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                self._check_tag(node, {_SEQ_TAG}, path, location)
                return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            self._check_tag(node, {_MAP_TAG}, path, location)
            return self._mapping(node, path)
        finally:
            self._active.discard(id(node))

    def _recursive(self, path: FieldPath, mark: Any) -> NoReturn:
        raise _Abort(
            Diagnostic(
                code="yaml.recursive-alias",
                message="an alias refers to a node that contains it",
                location=self._at(mark),
                path=_dotted(path),
                hint="remove the recursive alias",
            )
        )

    def _check_tag(self, node: yaml.Node, allowed: set[str], path: FieldPath, mark: Any) -> None:
        if node.tag not in allowed:
            raise _Abort(
                Diagnostic(
                    code="yaml.forbidden-tag",
                    message=f"YAML tag {_short_tag(node.tag)!r} is not allowed",
                    location=self._at(mark),
                    path=_dotted(path),
                    hint="specs are plain data: remove the tag and write the value itself",
                )
            )

    def _scalar(self, node: yaml.ScalarNode, path: FieldPath, location: Any) -> Any:
        if node.tag == _STR_TAG:  # the common case, answered without PyYAML's constructor
            if not node.value.isprintable():
                self.doc.unprintable = True
            return node.value
        if node.tag in _KEEP_AS_WRITTEN:
            return node.value
        self._check_tag(node, _SCALAR_TAGS, path, location)
        if node.tag == f"{_TAG}int" and ":" in node.value and node.style is None:
            return node.value  # YAML 1.1 sexagesimal (02:00 == 120): keep what the operator wrote
        try:
            if node.tag == f"{_TAG}null" and node.value not in _NULLS:
                raise ValueError(node.value)  # PyYAML reads any text tagged !!null as null
            return _constructor.yaml_constructors[node.tag](_constructor, node)
        except (yaml.constructor.ConstructorError, ValueError, KeyError, IndexError) as exc:  # !!bool maybe, !!int ""
            raise _Abort(
                Diagnostic(
                    code="yaml.bad-scalar",
                    message=f"cannot read {node.value!r} as {_short_tag(node.tag)}",
                    location=self._at(location),
                    path=_dotted(path),
                    hint="quote the value or fix its spelling",
                )
            ) from exc

    def _mapping(self, node: yaml.MappingNode, path: FieldPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        explicit: dict[str, Any] = {}
        merged: list[tuple[yaml.Node, Any]] = []
        for key_node, value_node in node.value:
            key_location = key_node.start_mark
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                merged.extend((source, key_location) for source in sources)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.diagnostics.append(
                    Diagnostic(
                        code="yaml.complex-key",
                        message="a mapping key must be a plain name",
                        location=self._at(key_location),
                        path=_dotted(path),
                        hint="write the key as a plain word",
                    )
                )
                continue
            key = str(key_node.value)
            if not key.isprintable():
                self.doc.unprintable = True
            if key in explicit:
                first = self._at(explicit[key])
                self.diagnostics.append(
                    Diagnostic(
                        code="yaml.duplicate-key",
                        message=f"duplicate key {key!r} (first written at line {first.line})",
                        location=self._at(key_location),
                        path=_dotted((*path, key)),
                        hint="remove one of the two; YAML would silently keep only the last",
                        related=(first,),
                    )
                )
                continue
            explicit[key] = key_location
            child = (*path, key)
            self.doc.keys.setdefault(child, key_location)  # explicit keys win over merged ones
            result[key] = self.build(value_node, child)
        for source, merge_location in merged:  # positioned at the << key: an alias has no position of its own
            if not isinstance(source, yaml.MappingNode):
                raise _Abort(
                    Diagnostic(
                        code="yaml.bad-merge",
                        message="a merge key (<<) must refer to a mapping",
                        location=self._at(merge_location),
                        path=_dotted(path),
                        hint="merge only mappings, e.g. <<: *defaults",
                    )
                )
            if id(source) in self._active:
                self._recursive(path, merge_location)
            self._check_tag(source, {_MAP_TAG}, path, merge_location)
            self._count(1, path, merge_location)  # merges of empty mappings must count too
            self._active.add(id(source))
            try:
                merged_values = self._mapping(source, path)
            finally:
                self._active.discard(id(source))
            for key, value in merged_values.items():
                result.setdefault(key, value)
        return result


def _empty(node: yaml.Node) -> bool:
    """An empty document: a lone ``---``, or one holding only ``~`` or ``null``."""
    return isinstance(node, yaml.ScalarNode) and node.tag == f"{_TAG}null" and node.value in _NULLS


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _dotted(path: FieldPath) -> str:
    return format_path(path)


def format_path(path: FieldPath) -> str:
    """``("spec", "vms", 0, "name")`` -> ``spec.vms[0].name``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def load_text(text: str, file: str, *, detach: bool = False) -> tuple[list[SourceDocument], list[Diagnostic]]:
    """Parse every document of a YAML stream; problems come back as diagnostics, never as exceptions.
    ``detach`` leaves the marks out of the documents (see ``SourceDocument.detach``)."""
    documents: list[SourceDocument] = []
    diagnostics: list[Diagnostic] = []
    stream: Iterator[yaml.Node | None] = yaml.compose_all(text, Loader=_Loader)
    index = 0
    while True:
        try:
            node = next(stream)
        except StopIteration:
            break
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or "invalid YAML"
            context = f" ({exc.context})" if exc.context else ""
            diagnostics.append(
                Diagnostic(
                    code="yaml.syntax",
                    message=f"YAML syntax error: {problem}{context}",
                    location=_loc(file, mark),
                    hint="check indentation, colons and quoting around this point",
                )
            )
            break
        except yaml.YAMLError as exc:
            diagnostics.append(
                Diagnostic(
                    code="yaml.syntax",
                    message=f"YAML error: {exc}",
                    location=Location(file),
                    hint="check the file is valid YAML",
                )
            )
            break
        if node is None or _empty(node):  # "---" with nothing after it: skipped, as Kubernetes tools do
            index += 1
            continue
        doc = SourceDocument(file=file, index=index, start=_loc(file, node.start_mark), data=None)
        doc.unprintable = False  # until the builder meets an unprintable key or string
        builder = _Builder(doc)
        try:
            doc.data = builder.build(node, ())
        except _Abort as abort:
            diagnostics.extend(builder.diagnostics)
            diagnostics.append(abort.diagnostic)
            index += 1
            continue
        diagnostics.extend(builder.diagnostics)
        if detach:
            doc.detach(text)
        documents.append(doc)
        index += 1
    return documents, diagnostics


def load_file(
    path: Path, *, display: str | None = None, detach: bool = False
) -> tuple[list[SourceDocument], list[Diagnostic]]:
    """Read and parse one spec file, with size and encoding checks."""
    name = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return [], [
                Diagnostic(
                    code="yaml.file-too-large",
                    message=f"file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}",
                    location=Location(name),
                    hint="split the specs into several files",
                )
            ]
        raw = path.read_bytes()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return [], [
                Diagnostic(
                    code="file.unreadable",
                    message=f"symbolic link loop: it leads back to itself (through {str(path.readlink())!r})",
                    location=Location(name),
                    hint="point the link at a spec file, or remove it",
                )
            ]
        if path.is_symlink() and not path.exists():
            return [], [
                Diagnostic(
                    code="file.unreadable",
                    message=f"broken symbolic link: its target {str(path.readlink())!r} does not exist",
                    location=Location(name),
                    hint="point the link at an existing spec file, or remove it",
                )
            ]
        return [], [
            Diagnostic(
                code="file.unreadable",
                message=f"cannot read file: {exc.strerror or exc}",
                location=Location(name),
                hint="check the path and its permissions",
            )
        ]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        column = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
        return [], [
            Diagnostic(
                code="file.encoding",
                message=f"not UTF-8 text: byte 0x{raw[exc.start]:02X} cannot be read as UTF-8",
                location=Location(name, raw.count(b"\n", 0, exc.start) + 1, column),
                hint="save the file as UTF-8",
            )
        ]
    return load_text(text, name, detach=detach)
