"""Diagnostics: how bad input is reported, all at once, never as a traceback.

Every layer that finds a problem in what a user wrote returns ``Diagnostic`` values; only the CLI
renders them. A diagnostic names where (file, line, column), what (the field path and a message), why
(a stable ``code`` that tests and tools can match) and how to fix it (``hint``).

Messages quote what the user wrote, and what was written can be hostile: every diagnostic writes the
unprintable characters of its message, hint and path as escapes and cuts an overlong one
(``core.text``), whoever built it. Renderers may print them as they are.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from reconciler.core.text import clip, printable

MAX_TEXT = 1000
"""Characters of a message, hint or path a diagnostic keeps (values inside are cut shorter where quoted)."""


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Location:
    """A point in a source file; ``line`` and ``column`` are 1-based, 0 when unknown."""

    file: str
    line: int = 0
    column: int = 0

    def __post_init__(self) -> None:
        safe = printable(self.file)  # a file name is as much input as what it holds
        if safe is not self.file:
            object.__setattr__(self, "file", safe)

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column}"
        return self.file


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in user input.

    ``code`` is stable (tests and CI tooling match on it); ``message`` and ``hint`` are for people.
    ``path`` is the dotted field path inside the document (``spec.recovery.policy.name``), empty for
    problems about a whole file. ``quote_source`` False tells a renderer not to print the source line
    (it holds a secret).
    """

    code: str
    message: str
    location: Location
    path: str = ""
    hint: str = ""
    severity: Severity = Severity.ERROR
    related: tuple[Location, ...] = field(default=())
    quote_source: bool = True

    def __post_init__(self) -> None:
        for name in ("message", "hint", "path"):
            text = getattr(self, name)
            safe = clip(printable(text), MAX_TEXT)
            if safe is not text:
                object.__setattr__(self, name, safe)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.location.file, self.location.line, self.location.column, self.code)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form; the keys are part of the documented ``validate --format json`` output."""
        return {
            "severity": self.severity.value,
            "code": self.code,
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
            "related": [str(r) for r in self.related],
        }


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in reading order (file, line, column), duplicates removed."""
    seen: set[tuple[object, ...]] = set()
    out: list[Diagnostic] = []
    for d in sorted(diagnostics, key=Diagnostic.sort_key):
        key = (d.code, d.location, d.path, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def has_errors(diagnostics: Sequence[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)
