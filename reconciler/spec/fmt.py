"""Specs in canonical form: what ``reconciler fmt`` writes and ``reconciler import`` emits.

Canonical means three things, and only these (flow or block style, blank lines and comments stay as written):

- **key order**: each mapping's keys in the order of its model's fields (``apiVersion``, ``kind``, ``metadata``,
  ``spec``; inside, as the pydantic models declare them, which is the order the docs and schemas show); keys the
  model does not know (validation reports them) keep their place after the known ones, and free-form maps
  (``labels``, BIOS ``attributes``) keep the author's order;
- **quoting**: a string is plain unless a YAML reader would take the plain form for something else (a number, a
  boolean, a time like ``22:00`` that YAML 1.1 reads as minutes, a value a ``#`` or ``: `` would cut), and then
  double-quoted;
- **indentation**: two spaces, sequence items indented under their key (``  - name: ...``), no line wrapping.

Comments are kept through ruamel.yaml's round trip. When keys move, a full-line comment stays above the key it
stood above (ruamel attaches it to the key before; :func:`_detach_line_comments` moves it to the key after), and
the comment lines closing a mapping stay at its end. This module is the only user of ruamel.yaml: the loader
reads specs with PyYAML's composer (``yamlsource``), which is faster and gives positions.
"""

from __future__ import annotations

import functools
import inspect
import io
import itertools
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml as pyyaml
from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString
from ruamel.yaml.tokens import CommentToken

from reconciler.spec import kinds

_SEXAGESIMAL = re.compile(r"^[-+]?\d[\d_]*(:[0-5]?\d)+(\.\d*)?$")  # YAML 1.1 reads 22:00 as 1320


class FormatError(ValueError):
    """A file that cannot be formatted (not YAML); the message names the file and line."""


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096  # never wrap: a long flow list stays on its line
    y.preserve_quotes = False
    y.explicit_start = False
    return y


# --- key order ------------------------------------------------------------------------------------


def models_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model an annotation holds (through Optional, unions, Annotated, tuples and lists), and whether it is
    a free-form mapping (``dict[...]``: its keys are the author's, never reordered)."""
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if origin is dict:
        return None, True
    if origin is typing.Annotated:
        return models_of(typing.get_args(annotation)[0])
    if origin in (tuple, list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found, free = models_of(arg)
            if found is not None or free:
                return found, free
    return None, False


@functools.cache
def _fields(model: type[BaseModel]) -> tuple[tuple[str, type[BaseModel] | None, bool], ...]:
    """Each field of ``model`` by its YAML key, with the model its value holds: the class's own fields in
    declaration order, then inherited ones (``lifecycle``, from ``Managed``, closes an item as specs write it)."""
    own = set(inspect.get_annotations(model))
    fields = sorted(model.model_fields.items(), key=lambda item: item[0] not in own)  # stable: order kept
    return tuple((field.alias or name, *models_of(field.annotation)) for name, field in fields)


def _reorder(node: Any, model: type[BaseModel] | None, *, column: int = 0) -> None:
    """Put every mapping under ``node`` in its model's key order (see the module docstring); ``column`` is where
    the keys of a mapping ``node`` start in canonical indentation (full-line comments go there)."""
    if isinstance(node, CommentedSeq):
        for item in node:
            _reorder(item, model, column=column + 2)
        return
    if not isinstance(node, CommentedMap) or not node:
        return
    if not node.fa.flow_style():
        _detach_line_comments(node, column)
    fields = {key: (child, free) for key, child, free in _fields(model)} if model is not None else {}
    wanted = [key for key in fields if key in node] + [key for key in node if key not in fields]
    if list(node) != wanted:
        closing = _split(node, list(node)[-1])
        for key in wanted:
            node.move_to_end(key)
        if closing:
            _append(node, wanted[-1], closing)
    for key, value in node.items():
        child, free = fields.get(key, (None, True))
        if not free:
            _reorder(value, child, column=column + (4 if isinstance(value, CommentedSeq) else 2))


def _slot(container: Any, key: Any) -> tuple[Any, Any, int]:
    """Where the comment after the value at ``key`` is kept: for a block collection, after its last item
    (recursively); the entry's index differs for mappings (2) and sequences (0)."""
    value = container[key]
    if isinstance(value, CommentedMap | CommentedSeq) and value and not value.fa.flow_style():
        return _slot(value, list(value)[-1] if isinstance(value, CommentedMap) else len(value) - 1)
    return container, key, 2 if isinstance(container, CommentedMap) else 0


def _split(node: CommentedMap, key: Any) -> str:
    """Cut the full-line comments off the comment after ``key``'s value (keeping its end-of-line comment)."""
    container, slot, index = _slot(node, key)
    entry = container.ca.items.get(slot)
    token = entry[index] if entry and len(entry) > index else None
    if not isinstance(token, CommentToken):
        return ""
    first, newline, rest = token.value.partition("\n")
    if not rest:
        return ""
    token.value = first + newline
    return rest


def _append(node: CommentedMap, key: Any, text: str) -> None:
    """Add ``text`` (comment lines) after ``key``'s value."""
    container, slot, index = _slot(node, key)
    entry = container.ca.items.setdefault(slot, [None, None, None, None] if index == 2 else [None, None])
    token = entry[index]
    if isinstance(token, CommentToken):
        token.value = token.value + text
    else:
        entry[index] = CommentToken("\n" + text, CommentMark(0))


def _detach_line_comments(node: CommentedMap, column: int) -> None:
    """ruamel keeps a full-line comment with the key before it (at the end of that key's value); make each a
    comment before the key after it, where it stands in the file, indented like that key: so it follows that
    key when keys are reordered, and is indented as the keys are."""
    keys = list(node)
    for key in keys:  # comments ruamel already keeps before a key: indented as the keys are
        entry = node.ca.items.get(key)
        for token in (entry[1] or []) if entry and len(entry) > 1 else []:
            if isinstance(token, CommentToken):
                token.start_mark = CommentMark(column)  # type: ignore[assignment]  # ruamel's own mark type
    for before, after in itertools.pairwise(keys):
        rest = _split(node, before)
        if not rest:
            continue
        lines = rest.split("\n")[:-1] if rest.endswith("\n") else rest.split("\n")
        # ruamel writes a comment before a key at the mark's column past the mapping's own indentation.
        tokens = [CommentToken(line.strip() + "\n" if line.strip() else "\n", CommentMark(column)) for line in lines]
        entry = node.ca.items.setdefault(after, [None, None, None, None])
        entry[1] = tokens + list(entry[1] or [])


# --- quoting --------------------------------------------------------------------------------------


@functools.cache
def needs_quotes(value: str, *, flow: bool) -> bool:
    """Whether ``value`` must be quoted to read back as this string (in a flow or a block collection)."""
    if not value or value != value.strip() or "\n" in value or _SEXAGESIMAL.match(value):
        return True
    snippet = f"{{k: {value}}}" if flow else f"k: {value}"
    try:
        read = pyyaml.safe_load(snippet)
    except pyyaml.YAMLError:
        return True
    return bool(read != {"k": value})


def _requote(node: Any, *, flow: bool = False) -> None:
    """Every string value under ``node`` plain, or double-quoted where it must be quoted."""
    if isinstance(node, CommentedMap):
        inner = flow or node.fa.flow_style()
        for key, value in node.items():
            node[key] = _canonical(value, flow=inner)
            _requote(node[key], flow=inner)
    elif isinstance(node, CommentedSeq):
        inner = flow or node.fa.flow_style()
        for i, value in enumerate(node):
            node[i] = _canonical(value, flow=inner)
            _requote(node[i], flow=inner)


def _canonical(value: Any, *, flow: bool) -> Any:
    if not isinstance(value, str) or ("\n" in value and isinstance(value, ScalarString)):
        return value  # not a string, or a block scalar (| or >) kept as written
    if needs_quotes(str(value), flow=flow):
        return DoubleQuotedScalarString(str(value))
    return str(value)


# --- files ----------------------------------------------------------------------------------------


def _model_of(document: Any) -> type[BaseModel] | None:
    kind = document.get("kind") if isinstance(document, CommentedMap) else None
    return kinds.KINDS.get(kind) if isinstance(kind, str) else None


def canonical(documents: Iterable[Any]) -> list[Any]:
    """``documents`` (ruamel round-trip nodes) put in canonical form, in place; returned for chaining."""
    out = []
    for document in documents:
        _reorder(document, _model_of(document))
        _requote(document)
        out.append(document)
    return out


def dump(documents: Iterable[Any]) -> str:
    """Documents (ruamel nodes or plain dicts and lists) as YAML text in canonical form."""
    stream = io.StringIO()
    _yaml().dump_all(canonical(documents), stream)
    return stream.getvalue()


def is_spec(document: Any) -> bool:
    """A reconciler document (``apiVersion: reconciler/...``): what fmt may rewrite."""
    return isinstance(document, dict) and str(document.get("apiVersion", "")).startswith("reconciler/")


def format_text(text: str, *, name: str = "<text>") -> str:
    """``text`` (one spec file) in canonical form; :class:`FormatError` when it is not YAML. A file holding any
    document that is not a reconciler spec (a CI workflow, a Helm values file) is returned unchanged."""
    try:
        documents = list(_yaml().load_all(text))
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FormatError(f"{name}{where}: not YAML ({problem}); fix it first (reconciler validate shows it)") from exc
    if not documents or not all(is_spec(d) for d in documents):
        return text
    return dump(documents)


@dataclass(frozen=True)
class Formatted:
    """One file: its text now and in canonical form."""

    path: str
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


__all__ = ["FormatError", "Formatted", "canonical", "dump", "format_text", "is_spec", "needs_quotes"]
