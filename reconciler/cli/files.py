"""Writing the files a command produces (``plan -o``, ``drift -o``): whole or not at all, and never through
something planted at the path.

The text goes to a new temporary file in the target's folder, created exclusively (``tempfile.mkstemp``:
``O_CREAT | O_EXCL``, a random name, mode 0600), and is then renamed over the target. A reader never sees
half a plan, and a symlink waiting at the target or at a predictable temporary name (``FILE.partial``) is
replaced, never followed."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO


def write_atomically(path: Path, write: Callable[[TextIO], object]) -> None:
    """``write`` the content to a fresh temporary file next to ``path``, then rename it to ``path``. OSError
    when the folder cannot be written (the temporary file is removed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            write(stream)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
