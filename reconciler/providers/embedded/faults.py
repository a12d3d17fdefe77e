"""Latency and faults on demand, for tests and benchmarks: every round trip to the embedded estate can
wait, fail temporarily at a rate, or fail permanently for chosen addresses or kinds (permanent faults
refuse the operations on those objects, not the bulk reads that list them).

Configured in code or by environment:
``RECONCILER_EMBEDDED_LATENCY_MS`` (per round trip), ``RECONCILER_EMBEDDED_FAULT_RATE`` (0-1, temporary
faults), ``RECONCILER_EMBEDDED_FAULT_ADDRESSES`` (comma-separated addresses or kinds that fail
permanently), ``RECONCILER_EMBEDDED_FAULT_SEED`` (repeatable randomness), ``RECONCILER_EMBEDDED_JOB_POLLS`` (polls
before a long-running job finishes), ``RECONCILER_JOB_TIMEOUT_S`` (how long apply waits for one job),
``RECONCILER_EMBEDDED_CRASH_AFTER`` (the process kills itself with SIGKILL at that round trip: an interrupted
apply at a chosen, repeatable moment), ``RECONCILER_EMBEDDED_RETRY_AFTER_S`` (the Retry-After a temporary fault
asks for, default 0.01: a throttled endpoint), and ``RECONCILER_EMBEDDED_PAUSE_AT`` with
``RECONCILER_EMBEDDED_PAUSE_FILE`` (the Nth operation, a round trip that names an object, writes
``FILE.paused`` and waits until ``FILE`` exists: a test acts at a chosen moment, e.g. stops the store or sends
SIGTERM, then lets the operation go on)."""

from __future__ import annotations

import math
import os
import random
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.core.addresses import Address
from reconciler.core.errors import PermanentError, TemporaryError


@dataclass
class Faults:
    latency_s: float = 0.0
    rate: float = 0.0
    permanent: frozenset[str] = frozenset()
    seed: int | None = None
    job_polls: int = 2  # polls before a long-running job (enable protection, a host reboot) finishes
    job_timeout_s: float = 600.0
    crash_after: int = 0  # > 0: SIGKILL this process at that round trip
    retry_after_s: float = 0.01  # what a temporary fault asks for
    pause_at: int = 0  # > 0: the operation of that number waits for pause_file (see the module docstring)
    pause_file: str = ""
    round_trips: int = 0
    operation_count: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self._rng.seed(self.seed)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Faults:
        env = os.environ if env is None else env

        def num(name: str, default: float, low: float, high: float = math.inf) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError as exc:
                raise ValueError(f"{name}={raw!r} is not a number") from exc
            if not (math.isfinite(value) and low <= value <= high):
                bound = f"between {low:g} and {high:g}" if math.isfinite(high) else f"a finite number >= {low:g}"
                raise ValueError(f"{name}={raw!r} must be {bound}")
            return value

        raw_seed = env.get("RECONCILER_EMBEDDED_FAULT_SEED", "").strip()
        try:
            seed = int(raw_seed) if raw_seed else None
        except ValueError as exc:
            raise ValueError(f"RECONCILER_EMBEDDED_FAULT_SEED={raw_seed!r} is not an integer") from exc
        addresses = env.get("RECONCILER_EMBEDDED_FAULT_ADDRESSES", "")
        return cls(
            latency_s=num("RECONCILER_EMBEDDED_LATENCY_MS", 0.0, 0.0) / 1000.0,
            rate=num("RECONCILER_EMBEDDED_FAULT_RATE", 0.0, 0.0, 1.0),
            permanent=frozenset(a.strip() for a in addresses.split(",") if a.strip()),
            seed=seed,
            job_polls=int(num("RECONCILER_EMBEDDED_JOB_POLLS", 2, 0, 10_000)),
            job_timeout_s=num("RECONCILER_JOB_TIMEOUT_S", 600.0, 0.0),
            crash_after=int(num("RECONCILER_EMBEDDED_CRASH_AFTER", 0, 0, 10**9)),
            retry_after_s=num("RECONCILER_EMBEDDED_RETRY_AFTER_S", 0.01, 0.0),
            pause_at=int(num("RECONCILER_EMBEDDED_PAUSE_AT", 0, 0, 10**9)),
            pause_file=env.get("RECONCILER_EMBEDDED_PAUSE_FILE", "").strip(),
        )

    def round_trip(self, what: str, address: Address | None = None) -> None:
        """One call to the 'server': wait, then maybe fail. ``what`` names the operation for messages."""
        with self._lock:
            self.round_trips += 1
            self.operation_count += address is not None
            unlucky = self.rate > 0 and self._rng.random() < self.rate
            if self.crash_after and self.round_trips >= self.crash_after:
                os.kill(os.getpid(), signal.SIGKILL)
            pause = address is not None and self.pause_at == self.operation_count and bool(self.pause_file)
        if pause:
            self._pause(f"{what} {address}")
        if self.latency_s:
            time.sleep(self.latency_s)
        if address is not None and self.permanent and any(address.matches(p) for p in self.permanent):
            raise PermanentError(f"{what} {address}: injected permanent fault", code="InjectedFault")
        if unlucky:
            raise TemporaryError(f"{what}: injected temporary fault (server busy)", retry_after=self.retry_after_s)

    def _pause(self, what: str) -> None:
        """Announce the pause (``FILE.paused`` holds what waits) and wait, at most ten minutes, for ``FILE``."""
        gate = Path(self.pause_file)
        gate.with_name(gate.name + ".paused").write_text(what, encoding="utf-8")
        waited = 0.0
        while not gate.exists() and waited < 600:
            time.sleep(0.01)
            waited += 0.01
