"""The time a run goes by. Every "now" a run needs comes from one :class:`Clock` passed in: when a plan or
drift report was made, whether a maintenance window is open for an apply, the history store's and the
audit trail's timestamps, a watch cycle's metrics. Durations are measured with ``time.monotonic`` (they
need no clock, only an interval).

Tests pin the time: in-process by passing :class:`FixedClock` (or any object with ``now()``) to a run; for
the CLI, in-process or as a subprocess, with the test-only variable ``RECONCILER_TEST_NOW`` (an ISO 8601
time such as ``2026-12-09T12:00:00Z``), read in one place, :func:`from_environ`. Nothing outside tests
sets it: a pinned clock decides whether a maintenance window is open, so in production it would let
disruptive changes through outside their window (or hold them inside it)."""

from __future__ import annotations

import datetime
import functools
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from reconciler.runs.errors import BadSetting

TEST_NOW_ENV = "RECONCILER_TEST_NOW"


class Clock(Protocol):
    def now(self) -> datetime.datetime:
        """The current time, timezone-aware, in UTC."""
        ...


@dataclass(frozen=True)
class SystemClock:
    """The real clock."""

    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class FixedClock:
    """Always ``at`` (for tests that compare times exactly)."""

    at: datetime.datetime

    def now(self) -> datetime.datetime:
        return self.at.astimezone(datetime.UTC)


class ShiftedClock:
    """Starts at ``at`` when made and moves on with the process's monotonic time: what it times keeps its
    order (a run's start before its end, one run before the next, a watch's cycles)."""

    def __init__(self, at: datetime.datetime) -> None:
        self._at = at.astimezone(datetime.UTC)
        self._started = time.monotonic()

    def now(self) -> datetime.datetime:
        return self._at + datetime.timedelta(seconds=time.monotonic() - self._started)


SYSTEM = SystemClock()


def parse_time(text: str) -> datetime.datetime:
    """An ISO 8601 time (``2026-12-09T12:00:00Z``, ``2026-12-09 12:00+01:00``); without an offset, UTC."""
    at = datetime.datetime.fromisoformat(text.strip())
    return at if at.tzinfo is not None else at.replace(tzinfo=datetime.UTC)


@functools.cache
def _pinned(text: str) -> ShiftedClock:
    """One clock per value and process: the commands one process runs (a test's in-process CLI calls) keep
    their order in the history store. A new process starts at the pinned time again."""
    try:
        return ShiftedClock(parse_time(text))
    except ValueError:
        raise BadSetting(f"{TEST_NOW_ENV}={text!r}: use an ISO 8601 time such as 2026-12-09T12:00:00Z") from None


def from_environ(environ: Mapping[str, str] | None = None) -> Clock:
    """The real clock, unless the test-only ``RECONCILER_TEST_NOW`` pins the time (see the module docstring):
    then a :class:`ShiftedClock` that started there (see :func:`_pinned`). :class:`BadSetting` when the value
    is not a time."""
    text = (os.environ if environ is None else environ).get(TEST_NOW_ENV, "").strip()
    return _pinned(text) if text else SYSTEM
