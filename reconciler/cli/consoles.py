"""The CLI's two rich consoles: ``out`` (stdout: plans, reports, step lines) and ``err`` (stderr: progress,
notes and errors). Imported when a command runs, never for ``--help``."""

from __future__ import annotations

from rich.console import Console

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
