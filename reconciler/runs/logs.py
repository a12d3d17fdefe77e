"""Structured logs (structlog) on stderr, and the redaction of everything a run records; see docs/logging.md.

Every run logs its events here (``plan.done``, ``apply.step``, ``history.write-failed``, ``watch.cycle``):
the CLI only chooses the format and level (``configure``, from ``--log-format`` and ``--log-level``).
``configure`` only records the format and level and routes the standard library's logging (SDKs, drivers)
through the same pipeline: structlog itself (about 60 ms of imports, rich tracebacks and asyncio among
them) is imported on the first event, so ``reconciler --help`` and ``validate`` never pay for it.

Every event passes through the ``Redactor`` as the last step before rendering; the audit trail
(``runs/audit.py``), the history store and the reports use the same ``redact``.
"""

from __future__ import annotations

import datetime
import enum
import functools
import os
import sys
import threading
from collections.abc import Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, TextIO

from reconciler.core.redact import Redactor

if TYPE_CHECKING:
    import logging


ENV_FORMAT = "RECONCILER_LOG_FORMAT"
ENV_LEVEL = "RECONCILER_LOG_LEVEL"
# The console shows an apply.step without its bulky data; the JSON lines and the audit file keep it.
CONSOLE_OMITS = ("before", "after", "fields")


class LogFormat(enum.StrEnum):
    console = "console"
    json = "json"


class LogLevel(enum.StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


_NUMERIC = {LogLevel.debug: 10, LogLevel.info: 20, LogLevel.warning: 30, LogLevel.error: 40}


class _State:
    def __init__(self) -> None:
        self.fmt = LogFormat.console
        self.level = LogLevel.info
        self.configured = False
        self.ready = False  # structlog set up for these settings
        self.handler: logging.Handler | None = None
        self.redactor: Redactor | None = None
        self.root_level: int | None = None  # the root logger's level before --log-level debug lowered it


_state = _State()
_lock = threading.RLock()


def configure(fmt: LogFormat | str = LogFormat.console, level: LogLevel | str = LogLevel.info) -> None:
    """Log ``fmt`` (console or json) lines at ``level`` and above to stderr. Cheap: see the module docstring.
    A new command starts here: the redactor reads the environment again, the audit trail starts afresh."""
    import logging

    from reconciler.runs import audit

    with _lock:
        _state.fmt, _state.level = LogFormat(str(fmt).lower()), LogLevel(str(level).lower())
        _state.configured, _state.ready = True, False
        _state.redactor = None
        audit.reset()
        root = logging.getLogger()
        if _state.handler is not None:
            root.removeHandler(_state.handler)
        # Other libraries' records: warnings and errors, everything with --log-level debug.
        handler = _handler_class()(max(_NUMERIC[_state.level], logging.WARNING))
        if _state.level is LogLevel.debug:
            if _state.root_level is None:
                _state.root_level = root.level
            handler.setLevel(logging.DEBUG)
            root.setLevel(logging.DEBUG)
        elif _state.root_level is not None:  # a previous configure (same process) lowered it
            root.setLevel(_state.root_level)
            _state.root_level = None
        root.addHandler(handler)
        _state.handler = handler
        # azure-identity warns once per credential it tried; the step's own error already says what failed
        # and what to set. Its records show with --log-level debug.
        logging.getLogger("azure.identity").setLevel(logging.DEBUG if _state.level is LogLevel.debug else logging.ERROR)


def redactor() -> Redactor:
    """A redactor for the secrets the environment holds (read once per command: ``configure`` resets it).
    Whatever is not plain data comes out as text, redacted too: nothing reaches a renderer's ``repr``."""
    found = _state.redactor
    if found is None:
        found = _state.redactor = Redactor.from_environ(os.environ, fallback=_plain)
    return found


def redact(value: Any) -> Any:
    """``value`` with every secret masked (docs/logging.md, "Redaction")."""
    return redactor()(value)


# --------------------------------------------------------------------------------------------- structlog


class _Stderr:
    """A structlog logger writing to whatever ``sys.stderr`` is at the time (typer's test runner swaps it)."""

    def __init__(self, *_args: Any) -> None:
        pass

    def msg(self, message: str) -> None:
        stream: TextIO = sys.stderr
        with _lock:
            stream.write(message + "\n")
            stream.flush()

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def _plain(value: Any) -> Any:
    """Plain data for an object that is not (an address, a path, a set, a date)."""
    if isinstance(value, set | frozenset):
        return sorted((v if isinstance(v, str) else _plain(v) for v in value), key=str)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return str(value)


def _redact_event(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    head = {k: event_dict[k] for k in ("timestamp", "level", "event") if k in event_dict}
    out = redact({**head, **event_dict})  # the same first keys as the audit file's lines
    assert isinstance(out, dict)
    return out


def _console_compact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in CONSOLE_OMITS:
        event_dict.pop(key, None)
    return {k: v for k, v in event_dict.items() if v is not None and v != ""}


def _setup() -> None:
    """Configure structlog for the recorded settings (the first event of a command does it)."""
    import structlog

    renderer: Callable[..., Any]
    if _state.fmt is LogFormat.json:
        renderer = structlog.processors.JSONRenderer()
        shape: list[Callable[..., Any]] = []
    else:
        colors = sys.stderr.isatty() and "NO_COLOR" not in os.environ
        renderer = structlog.dev.ConsoleRenderer(
            colors=colors, sort_keys=False, exception_formatter=structlog.dev.plain_traceback
        )
        shape = [_console_compact]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            # Tracebacks become text here, before redaction (a rich traceback would show locals unredacted).
            structlog.processors.format_exc_info,
            *shape,
            _redact_event,  # last before rendering: nothing logged can carry a secret
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_NUMERIC[_state.level]),
        logger_factory=_Stderr,
        cache_logger_on_first_use=False,
    )
    _state.ready = True


def get_logger() -> Any:
    """The structlog logger (settings from the environment if the CLI callback did not run)."""
    with _lock:
        if not _state.configured:
            try:
                configure(os.environ.get(ENV_FORMAT) or LogFormat.console, os.environ.get(ENV_LEVEL) or LogLevel.info)
            except ValueError:  # a bad setting: the CLI rejects it; here (library use) fall back to the defaults
                configure()
        if not _state.ready:
            _setup()
    import structlog

    return structlog.get_logger("reconciler")


def log(event: str, /, level: str = "info", **fields: Any) -> None:
    """One structured event on stderr (if at or above the log level)."""
    get_logger().log(_NUMERIC[LogLevel(level)], event, **fields)


@functools.cache
def _handler_class() -> type[logging.Handler]:
    import logging

    class StdlibHandler(logging.Handler):
        """Other libraries' log records, through the same redacting pipeline."""

        def emit(self, record: logging.LogRecord) -> None:
            try:
                get_logger().log(
                    max(record.levelno, 10), record.getMessage(), logger=record.name, exc_info=record.exc_info
                )
            except Exception:  # logging must never break a command
                self.handleError(record)

    return StdlibHandler


def quiet_level() -> str:
    """The level of an event the console UI already shows (plan summary, apply progress): logged at
    debug on the console so the terminal is not told everything twice; JSON logs (shipped to a log
    store) keep it at info. The audit file records it whatever the level."""
    return "debug" if _state.fmt is LogFormat.console else "info"
