"""SIGTERM and SIGINT (Ctrl-C, systemd, Kubernetes, a CI timeout) during a run: stop promptly and cleanly.

While a run is listening (``Stop.armed``: it waits for locks, reads the live state, or applies), the first
signal stops it: nothing new starts, waits end at once, steps in flight get ``RECONCILER_STOP_GRACE_S`` to
finish, and the run records what happened, releases its locks and returns its summary (exit 130). A second
signal abandons the steps in flight at once (still recorded and released). A third, or any signal while no
run listens (loading specs, the confirmation prompt), interrupts the command as Ctrl-C always did. Outside
the main thread (tests calling a command in a worker) nothing is installed."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from reconciler.engine.stop import Stop

INTERRUPTED_EXIT = 130  # 128 + SIGINT, as shells report an interrupted command


@contextlib.contextmanager
def graceful() -> Iterator[Stop]:
    """A :class:`Stop` set by SIGTERM and SIGINT while inside (see the module docstring)."""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    count = 0

    def handler(signum: int, _frame: FrameType | None) -> None:
        nonlocal count
        count += 1
        if not stop.armed or count > 2:
            raise KeyboardInterrupt
        stop.set(signal.Signals(signum).name, hard=count > 1, signalled=True)

    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for s in previous:
        signal.signal(s, handler)
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
