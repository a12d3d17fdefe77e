"""Numeric settings read from the environment (``RECONCILER_READ_CONCURRENCY``, ``RECONCILER_HISTORY_REPORTS``):
one rule for all of them, and a typed error naming the variable when one is out of range."""

from __future__ import annotations

import os
from collections.abc import Mapping

from reconciler.runs.errors import BadSetting


def whole_number_setting(
    name: str, *, low: int, high: int, default: int, environ: Mapping[str, str] | None = None
) -> int:
    """The whole number in environment variable ``name`` (``default`` when unset or blank); anything else
    than a number from ``low`` to ``high`` raises :class:`BadSetting` naming the variable and the range."""
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise BadSetting(f"{name}={raw!r}: use a whole number from {low} to {high} (default {default})")
    return value
