"""Generated spec documents as YAML a person reviews: canonical form (``spec.fmt``), block mappings, lists of
plain values on one line, and a comment on each value that is not the estate's own: ``default`` where it equals
the field's default (it could be left out), or the generator's note (a value the estate did not hold, and where it
came from). What ``reconciler import`` writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from reconciler.spec import fmt, kinds

Path = tuple[str | int, ...]
DEFAULT_NOTE = "default"


def _field(model: type[BaseModel] | None, key: str) -> tuple[Any, type[BaseModel] | None, bool]:
    """The field of ``model`` spelled ``key`` in YAML: (its default or ``...`` when required, its model, free-form)."""
    if model is None:
        return ..., None, True
    for name, field in model.model_fields.items():
        if (field.alias or name) == key:
            default = ... if field.is_required() else field.get_default(call_default_factory=True)
            child, free = fmt.models_of(field.annotation)
            return default, child, free
    return ..., None, True


def _is_default(value: Any, default: Any) -> bool:
    if default is ... or default is None:
        return False
    if isinstance(default, BaseModel):
        return bool(default.model_dump(by_alias=True, exclude_none=True, mode="json") == value)
    if isinstance(default, tuple):
        return bool(list(default) == value)
    return bool(getattr(default, "value", default) == value)


def _node(value: Any, model: type[BaseModel] | None, notes: Mapping[Path, str], path: Path) -> Any:
    if isinstance(value, Mapping):
        out = CommentedMap()
        for key, item in value.items():
            default, child, free = _field(model, key)
            out[key] = _node(item, None if free else child, notes, (*path, key))
            note = notes.get((*path, key)) or (DEFAULT_NOTE if _is_default(item, default) else "")
            if note:  # two spaces before the mark, as linters want, however long the line
                out.ca.items[key] = [None, None, CommentToken(f" # {note}\n", CommentMark(0)), None]
        return out
    if isinstance(value, list | tuple):
        seq = CommentedSeq(_node(item, model, notes, (*path, i)) for i, item in enumerate(value))
        if not any(isinstance(item, Mapping | list | tuple) for item in value):
            seq.fa.set_flow_style()
        return seq
    return value


def render(documents: Sequence[tuple[Mapping[str, Any], Mapping[Path, str]]], *, header: str = "") -> str:
    """``documents`` (each with its notes, by path from the document's root) as one YAML file."""
    nodes: list[Any] = []
    for document, notes in documents:
        model = kinds.KINDS.get(str(document.get("kind")))
        node = _node(document, model, notes, ())
        if header and not nodes:
            node.yaml_set_start_comment(header)
        nodes.append(node)
    return fmt.dump(nodes)
