"""What the Markdown reports (plans and drift, for pull-request comments) share: a value made safe for a table
cell, and a long table folded into a collapsed block that keeps to a size limit (a comment has one)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from reconciler.reports import values

_CELL_MAX = 300  # characters of one value in a table cell


def cell(text: str) -> str:
    """``text`` safe in a Markdown table cell: HTML-escaped, one line (unprintable characters, newlines
    included, written as escapes), pipes and Markdown marks escaped."""
    if len(text) > _CELL_MAX:
        text = text[: _CELL_MAX - 1] + "…"
    out = html.escape(values.text(text), quote=True)
    for mark in ("\\", "|", "`", "*", "_", "[", "]", "~"):
        out = out.replace(mark, "\\" + mark)
    return out


def collapsed(
    rows: Sequence[str], *, summary: str, columns: Sequence[str], room: int, closing: str = "\n</details>\n"
) -> tuple[str, int]:
    """``rows`` under a table header of ``columns``, in a ``<details>`` block titled ``summary``: as many rows
    as fit in ``room`` characters; and how many were left out (all of them when not even the block fits)."""
    opening = "\n".join(
        [
            "<details>",
            f"<summary>{summary}</summary>",
            "",
            "| " + " | ".join(columns) + " |",
            "| " + " | ".join("---" for _ in columns) + " |",
        ]
    )
    opening += "\n"
    if len(opening) + len(closing) > room:
        return "", len(rows)
    out, shown = opening, 0
    for row in rows:
        if len(out) + len(row) + 1 + len(closing) > room:
            break
        out += row + "\n"
        shown += 1
    return out + closing, len(rows) - shown
