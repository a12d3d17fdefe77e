"""No spec holds a character that hides or rewrites text: control characters, bidirectional controls and
invisible formatting characters are refused in every key and every string value of every document,
before schema validation.

Such a character has no place in a name or a description, and it is how a hostile value hides: ESC and
carriage return rewrite a terminal line, a right-to-left override shows ``exe.txt`` for ``txt.exe``, a
zero-width space makes ``Yellow\u200bNetwork`` look like ``YellowNetwork``. Values are sent to VMM and
Azure as data, never as script text; this check keeps such values out of the estate in the first place.
The check is generic (any kind, any depth, keys too), so a new field cannot open a hole.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

from reconciler.core.diagnostics import Diagnostic
from reconciler.core.text import BIDI_CONTROLS, describe_char
from reconciler.spec.yamlsource import FieldPath, SourceDocument, format_path

# Joiners shape letters in Arabic, Persian and Indic scripts: legitimate in text, not refused.
_JOINERS = frozenset("\u200c\u200d")


def _kind(char: str) -> str | None:
    """The diagnostic code for one character, or None when it is allowed."""
    if char in BIDI_CONTROLS:
        return "text.bidi-control"
    category = unicodedata.category(char)
    if category in ("Cc", "Zl", "Zp"):
        return "text.control-character"
    if category == "Cf" and char not in _JOINERS:
        return "text.invisible-character"
    return None


_WHY = {
    "text.control-character": "control characters (ESC, carriage return, newline, tab, NUL...) can rewrite what a "
    "terminal shows; write the text on one line with plain characters",
    "text.bidi-control": "a bidirectional control shows the text in another order than it is stored; remove it",
    "text.invisible-character": "an invisible character makes the text look like another; remove it",
}


def _first_unsafe(text: str) -> tuple[int, str, str] | None:
    """(index, character, code) of the first refused character of ``text``, with how many there are."""
    if text.isprintable():  # most strings: answered in C
        return None
    for i, char in enumerate(text):
        code = _kind(char)
        if code is not None:
            return i, char, code
    return None


def clean(value: Any) -> bool:
    """A fast first pass: whether no string of ``value`` (keys included) holds an unprintable character.
    Nearly every document is clean, and then no path is built."""
    if isinstance(value, str):
        return value.isprintable()
    if isinstance(value, dict):
        for key, child in value.items():
            if (isinstance(key, str) and not key.isprintable()) or not clean(child):
                return False
        return True
    if isinstance(value, list):
        return all(clean(child) for child in value)
    return True


def check(doc: SourceDocument, data: Any) -> list[Diagnostic]:
    """A diagnostic for every key or string value of ``data`` (the document's data, or a copy of it without
    its secrets) holding a refused character, positioned in ``doc``."""
    found: list[Diagnostic] = []
    if doc.unprintable is False or clean(data):  # the builder saw every string: nothing to walk
        return found
    for path, text, is_key in _strings(data, ()):
        first = _first_unsafe(text)
        if first is None:
            continue
        i, char, code = first
        what = "key" if is_key else "value"
        count = sum(1 for c in text if _kind(c) is not None)
        more = f" ({count} such characters in all)" if count > 1 else ""
        found.append(
            Diagnostic(
                code=code,
                message=f"the {what} holds {describe_char(char)} at character {i + 1}{more}",
                location=doc.locate_key(path) if is_key else doc.locate(path),
                path=format_path(path),
                hint=_WHY[code],
            )
        )
    return found


def _strings(value: Any, path: FieldPath) -> Iterator[tuple[FieldPath, str, bool]]:
    """Every (path, string, is_key) of the data: mapping keys and string values at any depth."""
    if isinstance(value, str):
        yield path, value, False
    elif isinstance(value, dict):
        for key, child in value.items():
            child_path = (*path, key)
            if isinstance(key, str):
                yield child_path, key, True
            yield from _strings(child, child_path)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _strings(child, (*path, i))


__all__ = ["check", "clean"]
