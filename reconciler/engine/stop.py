"""Stopping a run part-way, promptly: a signal (SIGTERM, Ctrl-C), the run's deadline, or locks that can no
longer be renewed. One :class:`Stop` is shared by whoever decides (a signal handler, a timer) and the threads
that wait: the walk of an apply and the live read wake at once, a retry back-off or a poll ends its sleep
(:class:`Stopped`), and what has not started does not start.

Waiting is the only thing a stop can cut short: a provider call in flight is left to finish, or abandoned by
the walk after a grace period (its worker threads are daemons, see ``engine.pool``). ``set`` may be called
from a signal handler: it takes no lock of its own."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from reconciler.core.errors import ReconcilerError


class Stopped(ReconcilerError):
    """A wait ended because the run is stopping; ``reason`` says why (``SIGTERM``, the deadline)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"stopped: {reason}")
        self.reason = reason


def _nothing() -> None:
    pass


class Stop:
    """Why a run should stop, once set. ``hard``: abandon what is in flight now instead of waiting for it.

    A child (``Stop(parent=...)``) is set whenever its parent is, and may also be set on its own: a run's
    deadline stops that run, not the command (a watch) that started it. Whether anyone is listening
    (:meth:`listening`, :attr:`armed`) is shared with the parent, so that a signal handler can tell a run that
    stops gracefully from a command that should simply be interrupted."""

    def __init__(self, *, parent: Stop | None = None) -> None:
        self._event = threading.Event()
        self.reason = ""
        self.hard = False
        self.signalled = False  # set by a signal (SIGTERM, Ctrl-C), not by a deadline
        self._wakers: list[Callable[[], None]] = []
        self._root: Stop = parent._root if parent is not None else self
        self._listeners = 0
        self._parent = parent
        if parent is not None:
            parent._wakers.append(self._follow)
            if parent.is_set:
                self._follow()

    def _follow(self) -> None:
        parent = self._parent
        if parent is not None:
            self.set(parent.reason, hard=parent.hard, signalled=parent.signalled)

    def close(self) -> None:
        """Stop following the parent (a child made for one run, the parent lives on)."""
        parent = self._parent
        if parent is not None:
            with contextlib.suppress(ValueError):
                parent._wakers.remove(self._follow)

    def set(self, reason: str, *, hard: bool = False, signalled: bool = False) -> None:
        """Stop, for ``reason`` (the first one given stays); ``hard``: do not wait for what is in flight;
        ``signalled``: a signal asked (the CLI exits 130), not a deadline."""
        if not self._event.is_set():
            self.reason = reason
            self.signalled = signalled
        if hard:
            self.hard = True
        self._event.set()
        for wake in list(self._wakers):
            wake()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`Stopped` if the run is stopping."""
        if self._event.is_set():
            raise Stopped(self.reason)

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True as soon as the run is stopping."""
        return self._event.wait(max(0.0, seconds))

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or raise :class:`Stopped` as soon as the run is stopping."""
        if self._event.wait(max(0.0, seconds)):
            raise Stopped(self.reason)

    def sleeper(self, sleep: Callable[[float], None] = time.sleep) -> Callable[[float], None]:
        """A sleep that ends with :class:`Stopped` when the run stops: :meth:`sleep` in place of the real
        ``time.sleep``; an injected one (tests) is called as it is, with the stop checked before and after."""
        if sleep is time.sleep:
            return self.sleep

        def checked(seconds: float) -> None:
            self.check()
            sleep(seconds)
            self.check()

        return checked

    @contextlib.contextmanager
    def listening(self, wake: Callable[[], None] = _nothing) -> Iterator[None]:
        """While inside, someone stops gracefully on this token (it is :attr:`armed`), and ``wake`` is called
        (from whichever thread sets it) when it is set."""
        self._wakers.append(wake)
        self._root._listeners += 1
        try:
            if self.is_set:
                wake()
            yield
        finally:
            self._root._listeners -= 1
            with contextlib.suppress(ValueError):
                self._wakers.remove(wake)

    @property
    def armed(self) -> bool:
        """A run is listening (see :meth:`listening`): a signal should stop it gracefully."""
        return self._root._listeners > 0

    def after(self, seconds: float, reason: str) -> Callable[[], None]:
        """Set this token ``seconds`` from now, for ``reason`` (a deadline); returns what cancels that."""
        timer = threading.Timer(max(0.0, seconds), self.set, args=(reason,))
        timer.daemon = True
        timer.start()
        return timer.cancel


NEVER = Stop()
"""A token nobody sets: the default where no stop is given (library use, tests)."""
