"""Translate pydantic validation errors into diagnostics that point at the YAML.

Pydantic reports ``loc`` tuples in alias (camelCase) form; we map each onto the source position,
give each error type a stable code, and add a fix: a did-you-mean for unknown keys, the field's own
description for everything else.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from reconciler.core.diagnostics import Diagnostic
from reconciler.core.text import quoted
from reconciler.spec import secrets
from reconciler.spec.yamlsource import FieldPath, SourceDocument, format_path

_CODES: dict[str, str] = {
    "extra_forbidden": "schema.unknown-field",
    "missing": "schema.missing-field",
    "literal_error": "schema.invalid-choice",
    "enum": "schema.invalid-choice",
    "string_pattern_mismatch": "schema.invalid-format",
    "greater_than_equal": "schema.out-of-range",
    "greater_than": "schema.out-of-range",
    "less_than_equal": "schema.out-of-range",
    "less_than": "schema.out-of-range",
    "too_short": "schema.invalid-length",
    "too_long": "schema.invalid-length",
    "string_too_short": "schema.invalid-length",
    "string_too_long": "schema.invalid-length",
    "memory_size": "schema.invalid-size",
    "duration": "schema.invalid-duration",
    "cidr": "network.invalid-cidr",
    "ip_address": "network.invalid-address",
    "url": "schema.invalid-url",
    "secret_in_url": "secret.in-url",
}


def error_code(error_type: str) -> str:
    """The diagnostic code for a pydantic error type; anything unlisted is a wrong type."""
    return _CODES.get(error_type, "schema.wrong-type")


def _code(err: ErrorDetails) -> str:
    """A broken naming rule carries its own code (``spec/naming.py``); other errors map by type."""
    if err["type"] == "name_rule":
        return str((err.get("ctx") or {})["code"])
    return error_code(err["type"])


# Pydantic prefixes the message of a ValueError or an assertion raised in a validator; ours say what is wrong.
_PREFIXES = ("Value error, ", "Assertion failed, ")


def _data_path(data: Any, loc: tuple[int | str, ...]) -> FieldPath:
    """Drop the union-member tags pydantic inserts into ``loc``; keep keys that exist in the data."""
    path: list[str | int] = []
    current = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(current, dict) and isinstance(part, str):
            if part in current:
                path.append(part)
                current = current[part]
            elif last:
                path.append(part)
            continue
        if isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
            continue
        if last and isinstance(part, str) and not isinstance(current, dict):
            continue
        if last:
            path.append(part)
    return tuple(path)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X | None``, ``tuple[X, ...]``, ``dict[str, X]`` and the like."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_of(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, tuple, list, dict):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _walk(model: type[BaseModel], path: Iterable[str | int]) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """Follow a data path through the model classes: (the model whose mapping holds the value at
    ``path``, or None when the path leaves the models; the field info of the last key)."""
    current: type[BaseModel] | None = model
    info: FieldInfo | None = None
    for part in path:
        if isinstance(part, int):
            continue
        if current is None:
            return None, None
        info = _field_by_alias(current, part)
        if info is None:
            return None, None
        current = _model_of(info.annotation)
    return current, info


def _field_by_alias(model: type[BaseModel], alias: str) -> FieldInfo | None:
    for name, info in model.model_fields.items():
        if alias in (info.alias, name):
            return info
    return None


def allowed_keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest choice to ``word`` (case-insensitive), if any is close enough."""
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered:
        return lowered[word.lower()]
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.8)
    return lowered[match[0]] if match else None


def _hint(model: type[BaseModel], path: FieldPath, err: ErrorDetails) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        container, _ = _walk(model, path[:-1])
        keys = allowed_keys(container) if container is not None else []
        suggestion = did_you_mean(str(path[-1]), keys)
        if suggestion:
            return f"did you mean {suggestion!r}?"
        return f"allowed here: {', '.join(keys)}" if keys else "remove this field"
    _, info = _walk(model, path)
    description = info.description if info is not None and info.description else ""
    if kind == "missing":
        return f"add {path[-1]!r}" + (f": {description}" if description else "")
    if kind == "secret_in_url":
        return f"write the URL without user:password@; {secrets.WHERE}"
    ctx = err.get("ctx") or {}
    if kind == "name_rule":
        return str(ctx["hint"])
    if kind == "cidr" and "fixed" in ctx:
        return f"write the network itself: {ctx['fixed']}"
    if description and kind != "memory_size":  # a size's description says what it is, not how to write it
        return description
    if kind in ("too_short", "too_long"):
        return f"list {'at least' if kind == 'too_short' else 'at most'} {_bound(err)}"
    return _FORMAT_HINTS.get(kind, "write a value of the type named in the message")


_FORMAT_HINTS: dict[str, str] = {
    "memory_size": "write a number of MB or a size with a unit: 512MiB, 2GiB",
    "duration": "write a duration such as 4h, 90m or 1h30m",
    "cidr": "write a network in CIDR form, e.g. 10.0.1.0/24",
    "ip_address": "write an IP address such as 10.0.0.1",
    "url": "write an http(s) URL such as https://10.0.0.21",
}


def _bound(err: ErrorDetails) -> str:
    """``1 item`` / ``3 items`` for a length error."""
    ctx = err.get("ctx") or {}
    bound = ctx.get("min_length") if err["type"] == "too_short" else ctx.get("max_length")
    return f"{bound} item{'s' * (bound != 1)}"


def _message(path: FieldPath, err: ErrorDetails) -> str:
    kind = err["type"]
    value = err.get("input")
    shown = f" (got {quoted(value)})" if isinstance(value, str | int | float | bool) else ""
    if kind in ("secret_in_url", "name_rule") or (kind in _FORMAT_HINTS and str(value) in err["msg"]):
        shown = ""  # never echo credentials; don't repeat a value our own message already quotes
    if kind == "extra_forbidden":
        return f"unknown field {quoted(path[-1])}"
    if kind == "missing":
        return f"required field {path[-1]!r} is missing"
    if kind == "string_pattern_mismatch":
        return f"{quoted(value)} is not in the expected format"
    if kind in ("too_short", "too_long"):
        return f"needs {'at least' if kind == 'too_short' else 'at most'} {_bound(err)}"
    message = err["msg"]
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    return f"{message}{shown}"


def _follow_on(err: ErrorDetails) -> bool:
    """Pydantic counts list items *after* validation: a list whose only items are invalid is also
    "too short". The item errors say what is wrong; the length error is not reported."""
    value = err.get("input")
    min_length = (err.get("ctx") or {}).get("min_length")
    return (
        err["type"] == "too_short"
        and isinstance(value, list | tuple)
        and isinstance(min_length, int)
        and len(value) >= min_length
    )


def to_diagnostics(exc: ValidationError, *, model: type[BaseModel], doc: SourceDocument) -> list[Diagnostic]:
    """One diagnostic per pydantic error, positioned in the YAML document ``doc``.

    A misspelt key shows up twice in pydantic (unknown ``polcy``, missing ``policy``); when the
    did-you-mean of an unknown key names a missing sibling, only the unknown key is reported."""
    out: list[Diagnostic] = []
    errors = [(_data_path(doc.data, tuple(err["loc"])), err) for err in exc.errors(include_url=False)]
    hints = {id(err): _hint(model, path, err) for path, err in errors}
    misspelt: set[FieldPath] = set()
    for path, err in errors:
        if err["type"] == "extra_forbidden" and hints[id(err)].startswith("did you mean"):
            container, _ = _walk(model, path[:-1])
            guess = did_you_mean(str(path[-1]), allowed_keys(container) if container is not None else [])
            if guess is not None:
                misspelt.add((*path[:-1], guess))
    for path, err in errors:
        if (err["type"] == "missing" and path in misspelt) or _follow_on(err):
            continue
        location = doc.locate_key(path) if err["type"] == "extra_forbidden" else doc.locate(path)
        out.append(
            Diagnostic(
                code=_code(err),
                message=_message(path, err),
                location=location,
                path=format_path(path),
                hint=hints[id(err)],
                quote_source=err["type"] != "secret_in_url",  # the source line holds the credential
            )
        )
    return out
