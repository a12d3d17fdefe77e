"""Diagnostics for people (rich text with the offending source line) and for tools (JSON): what
``validate`` prints, and every command that refuses its input (an estate file, specs before a plan).

The text form quotes the source line a diagnostic points at, except where the diagnostic says the line
holds a secret (``Diagnostic.quote_source`` False: the key and the line are named, the value is never
shown). Source lines and every other text go out with unprintable characters escaped (``core.text``), so a
file holding a bidirectional override or an escape sequence cannot rewrite what the reader sees."""

from __future__ import annotations

import json
import linecache
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from reconciler.core.diagnostics import Diagnostic
from reconciler.core.text import printable

JSON_FORMAT_VERSION = 1
SNIPPET_KEEP = 200
"""Characters of a source line shown (more when the column is further right)."""


def _snippet(d: Diagnostic) -> list[str]:
    if not d.location.line:
        return []
    if not d.quote_source:
        return [f"[dim]{d.location.line:>5} | (not shown: it holds a credential)[/dim]"]
    line = linecache.getline(d.location.file, d.location.line).rstrip("\n")
    if not line.strip():
        return []
    gutter = f"{d.location.line:>5} | "
    # The caret sits under the column; escapes before it widen the line by their extra characters.
    before = printable(line[: max(d.location.column - 1, 0)])
    shown = printable(line)
    keep = max(SNIPPET_KEEP, len(before) + 60)
    if len(shown) > keep:  # a megabyte on one line is not shown whole
        shown = f"{shown[:keep]}… ({len(line)} characters)"
    caret = " " * (len(gutter) + len(before)) + "^"
    return [f"[dim]{gutter}[/dim]{escape(shown)}", f"[bold red]{caret}[/bold red]"]


def lines(diagnostics: Sequence[Diagnostic]) -> list[str]:
    """Each diagnostic as rich markup lines: where, severity, code, field, message; the source line and a
    caret; the fix; related places."""
    out: list[str] = []
    for d in diagnostics:
        colour = "red" if d.is_error else "yellow"
        where = escape(str(d.location))
        field = f" [bold]{escape(d.path)}[/bold]:" if d.path else ""
        out.append(
            f"[bold]{where}[/bold]: [{colour}]{d.severity.value}[/{colour}][dim]\\[{d.code}][/dim]{field} "
            f"{escape(d.message)}"
        )
        out += _snippet(d)
        if d.hint:
            out.append(f"      [cyan]fix:[/cyan] {escape(d.hint)}")
        out += [f"      [dim]see {escape(str(rel))}[/dim]" for rel in d.related]
    return out


def text(console: Console, diagnostics: Sequence[Diagnostic], *, files: int, documents: int) -> None:
    """Every diagnostic (:func:`lines`), then the count of errors and warnings."""
    for line in lines(diagnostics):
        console.print(line, highlight=False)
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors
    counts = f"{documents} document{'s' * (documents != 1)} in {files} file{'s' * (files != 1)}"
    warned = f", {warnings} warning{'s' * (warnings != 1)}" if warnings else ""
    if errors:
        console.print(f"[bold red]✗ {errors} error{'s' * (errors != 1)}{warned}[/bold red] ({counts})")
    else:
        console.print(f"[bold green]✓ valid[/bold green]: {counts}{warned}")


def as_json(diagnostics: Sequence[Diagnostic], *, files: int, documents: int) -> str:
    """The ``validate --format json`` document (docs/validation.md)."""
    errors = sum(1 for d in diagnostics if d.is_error)
    return json.dumps(
        {
            "formatVersion": JSON_FORMAT_VERSION,
            "valid": errors == 0,
            "files": files,
            "documents": documents,
            "errors": errors,
            "warnings": len(diagnostics) - errors,
            "diagnostics": [d.to_dict() for d in diagnostics],
        },
        indent=2,
    )


__all__ = ["JSON_FORMAT_VERSION", "as_json", "lines", "text"]
