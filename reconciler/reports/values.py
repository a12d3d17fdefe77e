"""One way to show a field's value in every report: memory fields (``KindInfo.memory_fields``, held in MB)
with units as operators write them in specs, strings as they are, anything else as compact JSON."""

from __future__ import annotations

import json
from typing import Any

from reconciler.core import kinds
from reconciler.core.units import format_memory_mb


def show(v: Any, *, kind: str = "", path: str = "", ascii_only: bool = True) -> str:
    """``v`` (the value of field ``path`` of a ``kind`` object) as a report shows it."""
    info = kinds.KINDS.get(kind)
    if info is not None and path in info.memory_fields and isinstance(v, int) and not isinstance(v, bool):
        return format_memory_mb(v)
    if isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True, default=str, ensure_ascii=ascii_only)
