"""Units the spec language accepts: memory sizes and durations.

Memory is normalised to whole mebibytes (Hyper-V's ``Msvm_MemorySettingData`` counts in MB, and so does
VMM's UI); a bare number means MB. Durations are normalised to seconds.
"""

from __future__ import annotations

import re

_MEMORY_UNITS: dict[str, float] = {
    "": 1,
    "mb": 1,
    "mib": 1,
    "m": 1,
    "gb": 1024,
    "gib": 1024,
    "g": 1024,
    "tb": 1024 * 1024,
    "tib": 1024 * 1024,
    "t": 1024 * 1024,
}
_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_DURATION_RE = re.compile(r"(\d+)\s*([smhd])")
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_memory_mb(value: object) -> int:
    """``2GiB`` / ``512MiB`` / ``2048`` -> MB. Raises ValueError with the accepted forms."""
    if isinstance(value, bool):
        raise ValueError("a memory size, not a boolean")
    if isinstance(value, int):
        mb = float(value)
    elif isinstance(value, float):
        mb = value
    elif isinstance(value, str):
        m = _MEMORY_RE.match(value)
        if not m or m.group(2).lower() not in _MEMORY_UNITS:
            raise ValueError(f"{value!r} is not a memory size; write MB as a number or use a unit: 512MiB, 2GiB")
        mb = float(m.group(1)) * _MEMORY_UNITS[m.group(2).lower()]
    else:
        raise ValueError("a memory size such as 2048 (MB), 512MiB or 2GiB")
    if mb != int(mb):
        raise ValueError(f"{value!r} is not a whole number of MB")
    if mb <= 0:
        raise ValueError("a memory size must be positive")
    return int(mb)


def format_memory_mb(mb: int) -> str:
    """The shortest exact spelling: 2048 -> ``2GiB``, 512 -> ``512MiB``."""
    if mb % 1024 == 0:
        return f"{mb // 1024}GiB"
    return f"{mb}MiB"


def parse_duration_seconds(value: object) -> int:
    """``4h`` / ``90m`` / ``1h30m`` / a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration, not a boolean")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str):
        text = value.strip().lower()
        parts = _DURATION_RE.findall(text)
        if not parts or _DURATION_RE.sub("", text).strip():
            raise ValueError(f"{value!r} is not a duration; write e.g. 4h, 90m or 1h30m")
        seconds = sum(int(n) * _DURATION_SECONDS[u] for n, u in parts)
    else:
        raise ValueError("a duration such as 4h, 90m or 1h30m")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds
