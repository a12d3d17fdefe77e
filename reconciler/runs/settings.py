"""Numeric settings read from the environment (``RECONCILER_READ_CONCURRENCY``, ``RECONCILER_HISTORY_REPORTS``,
the deadlines of :func:`run_limits`): one rule for all of them, and a typed error naming the variable when one
is out of range."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

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


STEP_TIMEOUT_ENV = "RECONCILER_STEP_TIMEOUT_S"
RUN_TIMEOUT_ENV = "RECONCILER_RUN_TIMEOUT_S"
STOP_GRACE_ENV = "RECONCILER_STOP_GRACE_S"
LOCK_LEASE_ENV = "RECONCILER_LOCK_LEASE_S"


@dataclass(frozen=True)
class RunLimits:
    """How long an apply may take (docs/configuration.md, "Deadlines"): each step from when it gets its
    provider slot, the whole run from its start (locks and read included), and how long steps in flight may
    finish once the run stops (a signal, its deadline) before they are abandoned; and the longest wait a
    server's Retry-After may ask for."""

    step_s: float
    run_s: float
    grace_s: float
    retry_after_max_s: float
    lock_lease_s: float  # a scope lock lasts this long unless renewed (every third of it, while the run lives)


def run_limits(environ: Mapping[str, str] | None = None) -> RunLimits:
    """The limits from the environment; :class:`BadSetting` naming a variable out of range. Checked before
    a run reads or locks anything."""
    from reconciler.engine import refresh

    try:
        retry_after_max = refresh.retry_after_max_s(environ)
    except ValueError as exc:
        raise BadSetting(str(exc)) from None
    return RunLimits(
        step_s=whole_number_setting(STEP_TIMEOUT_ENV, low=1, high=604_800, default=7_200, environ=environ),
        run_s=whole_number_setting(RUN_TIMEOUT_ENV, low=1, high=2_592_000, default=86_400, environ=environ),
        grace_s=whole_number_setting(STOP_GRACE_ENV, low=0, high=3_600, default=30, environ=environ),
        retry_after_max_s=retry_after_max,
        lock_lease_s=whole_number_setting(LOCK_LEASE_ENV, low=30, high=86_400, default=300, environ=environ),
    )
