"""One way to show a field's value in every report: memory fields (``KindInfo.memory_fields``, held in MB)
with units as operators write them in specs, strings as they are (unprintable characters escaped),
anything else as compact JSON; and one way to make any text a report prints safe (:func:`text`): live
systems hold names and values that nobody validated, and a control character in one must not rewrite a
reviewer's terminal."""

from __future__ import annotations

import json
from typing import Any

from rich.markup import escape as _escape

from reconciler.core import kinds
from reconciler.core.text import printable
from reconciler.core.units import format_memory_mb


def text(value: object) -> str:
    """``value`` as text with every control, bidirectional and other unprintable character written as an
    escape (``\\x1b``, ``\\n``, ``\\u202e``): it cannot move the cursor, forge a line or reorder what follows."""
    return printable(value if isinstance(value, str) else str(value))


def show(v: Any, *, kind: str = "", path: str = "", ascii_only: bool = True) -> str:
    """``v`` (the value of field ``path`` of a ``kind`` object) as a report shows it."""
    info = kinds.KINDS.get(kind)
    if info is not None and path in info.memory_fields and isinstance(v, int) and not isinstance(v, bool):
        return format_memory_mb(v)
    if isinstance(v, str):
        return printable(v)
    # Without ensure_ascii, JSON leaves bidirectional controls and line separators as they are.
    return printable(json.dumps(v, sort_keys=True, default=str, ensure_ascii=ascii_only))


def markup(value: str) -> str:
    """``value`` safe inside rich markup: ``rich.markup.escape``, answered at once for the text that needs no
    escape (no ``[``, no trailing backslash), which is nearly all of it: a 1,000-tenant plan shows some 200,000
    values, and the regular expression behind the escape took a fifth of its rendering."""
    if "[" not in value and not value.endswith("\\"):
        return value
    return _escape(value)
