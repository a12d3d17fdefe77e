"""Text that came from a spec or a live system, made safe to print: every output for people (validate's
diagnostics, the plan, the drift reports) passes such values through here.

A name or value can hold anything its system accepted: an ESC that starts a terminal escape sequence
(clear the line, move the cursor, set the window title), a carriage return or newline that forges a
line, a bidirectional override that shows text in another order than it is stored. :func:`printable`
writes each such character as an escape (``\\x1b``, ``\\n``, ``\\u202e``), the way Python's ``repr``
does, and leaves everything else, other scripts included, as it is. :func:`clip` keeps a long value
from burying a message: its start and its length. Pure functions, no I/O.
"""

from __future__ import annotations

import unicodedata
from typing import Final

# Categories written as escapes: controls (C0, DEL, C1), format characters (bidirectional controls,
# zero-width characters), line and paragraph separators, surrogates, private use and unassigned.
_UNSAFE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})

# The bidirectional formatting characters (the "Trojan Source" set): they reorder what follows them.
BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
)

CLIP_KEEP: Final = 60
"""Characters of a long value a message keeps (:func:`clip`)."""

_NAMES: Final = {
    "\x00": "NUL",
    "\x07": "BEL",
    "\x08": "backspace",
    "\t": "tab",
    "\n": "newline",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\r": "carriage return",
    "\x1b": "ESC",
    "\x7f": "DEL",
}


def unsafe(char: str) -> bool:
    """Whether one character is written as an escape by :func:`printable`."""
    return unicodedata.category(char) in _UNSAFE_CATEGORIES


def escape_char(char: str) -> str:
    """One character as Python writes it in a string literal: ``\\x1b``, ``\\u202e``, ``\\U000e0001``;
    the usual ``\\n``, ``\\r``, ``\\t`` for those three."""
    special = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
    if special is not None:
        return special
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def describe_char(char: str) -> str:
    """A character for a message: its escape and its name, e.g. ``\\x1b (ESC)``, ``U+202E (RIGHT-TO-LEFT
    OVERRIDE)``."""
    code = ord(char)
    name = _NAMES.get(char) or unicodedata.name(char, "")
    shown = escape_char(char) if code < 0x100 else f"U+{code:04X}"
    return f"{shown} ({name})" if name else shown


def printable(text: str) -> str:
    """``text`` with every unsafe character written as an escape (see the module docstring)."""
    if text.isprintable():  # the common case, in C; also true of no unsafe character
        return text
    return "".join(escape_char(c) if unsafe(c) else c for c in text)


def clip(text: str, keep: int = CLIP_KEEP) -> str:
    """``text`` itself, or past ``keep`` characters its first ``keep`` and its length:
    ``AAAA… (1048576 characters)``."""
    if len(text) <= keep:
        return text
    return f"{text[:keep]}… ({len(text)} characters)"


def quoted(value: object, keep: int = CLIP_KEEP) -> str:
    """A value from the input for a message: a string quoted as ``repr`` quotes it (so unsafe characters are
    escaped), cut to ``keep`` characters; anything else as ``repr``, cut the same way."""
    if isinstance(value, str) and len(value) > keep:
        return f"{value[:keep]!r}… ({len(value)} characters)"
    shown = repr(value)
    return clip(shown, keep + 2)


__all__ = ["BIDI_CONTROLS", "CLIP_KEEP", "clip", "describe_char", "escape_char", "printable", "quoted", "unsafe"]
