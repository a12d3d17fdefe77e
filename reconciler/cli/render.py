"""Diagnostics for people (rich text with the offending source line) and for tools (JSON)."""

from __future__ import annotations

import json
import linecache
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from reconciler.core.diagnostics import Diagnostic

JSON_FORMAT_VERSION = 1


def _snippet(d: Diagnostic) -> list[str]:
    if not d.location.line:
        return []
    line = linecache.getline(d.location.file, d.location.line).rstrip("\n")
    if not line.strip():
        return []
    gutter = f"{d.location.line:>5} | "
    caret = " " * (len(gutter) + max(d.location.column - 1, 0)) + "^"
    return [f"[dim]{gutter}[/dim]{escape(line)}", f"[bold red]{caret}[/bold red]"]


def text(console: Console, diagnostics: Sequence[Diagnostic], *, files: int, documents: int) -> None:
    for d in diagnostics:
        colour = "red" if d.is_error else "yellow"
        where = escape(str(d.location))
        field = f" [bold]{escape(d.path)}[/bold]:" if d.path else ""
        console.print(
            f"[bold]{where}[/bold]: [{colour}]{d.severity.value}[/{colour}][dim]\\[{d.code}][/dim]{field} "
            f"{escape(d.message)}",
            highlight=False,
        )
        for line in _snippet(d):
            console.print(line, highlight=False)
        if d.hint:
            console.print(f"      [cyan]fix:[/cyan] {escape(d.hint)}", highlight=False)
        for rel in d.related:
            console.print(f"      [dim]see {escape(str(rel))}[/dim]", highlight=False)
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors
    counts = f"{documents} document{'s' * (documents != 1)} in {files} file{'s' * (files != 1)}"
    warned = f", {warnings} warning{'s' * (warnings != 1)}" if warnings else ""
    if errors:
        console.print(f"[bold red]✗ {errors} error{'s' * (errors != 1)}{warned}[/bold red] ({counts})")
    else:
        console.print(f"[bold green]✓ valid[/bold green]: {counts}{warned}")


def as_json(diagnostics: Sequence[Diagnostic], *, files: int, documents: int) -> str:
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
