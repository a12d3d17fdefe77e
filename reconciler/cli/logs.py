"""Structured logs (structlog) on stderr and the audit trail; see docs/logging.md.

``configure`` only records the format and level and routes the standard library's logging (SDKs, drivers)
through the same pipeline: structlog itself (about 60 ms of imports, rich tracebacks and asyncio among
them) is imported on the first event, so ``reconciler --help`` and ``validate`` never pay for it.

Every event passes through the ``Redactor`` as the last step before rendering, and every audit event is
also appended, redacted the same way, as one JSON line to the audit file (``RECONCILER_AUDIT_LOG``,
default ``.reconciler/audit.jsonl``; ``-`` turns it off) whatever the log level.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import typer

from reconciler.core.redact import Redactor

if TYPE_CHECKING:
    import logging

    from reconciler.core.changes import Plan, ResourceChange
    from reconciler.engine import applier
    from reconciler.engine.drift import DriftReport

ENV_FORMAT = "RECONCILER_LOG_FORMAT"
ENV_LEVEL = "RECONCILER_LOG_LEVEL"
ENV_AUDIT_LOG = "RECONCILER_AUDIT_LOG"
DEFAULT_AUDIT_LOG = Path(".reconciler") / "audit.jsonl"
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
        self.audit_failed = False
        self.redactor: Redactor | None = None
        self.audit_file: TextIO | None = None
        self.audit_file_path: Path | None = None
        self.root_level: int | None = None  # the root logger's level before --log-level debug lowered it


_state = _State()
_lock = threading.RLock()


def configure(fmt: LogFormat | str = LogFormat.console, level: LogLevel | str = LogLevel.info) -> None:
    """Log ``fmt`` (console or json) lines at ``level`` and above to stderr. Cheap: see the module docstring."""
    import logging

    with _lock:
        _state.fmt, _state.level = LogFormat(str(fmt).lower()), LogLevel(str(level).lower())
        _state.configured, _state.ready, _state.audit_failed = True, False, False
        _state.redactor = None
        close_audit()
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


# --------------------------------------------------------------------------------------------- audit trail


def audit_path() -> Path | None:
    """Where audit events go: ``$RECONCILER_AUDIT_LOG``, default ``.reconciler/audit.jsonl``; ``-`` is off."""
    value = os.environ.get(ENV_AUDIT_LOG, "").strip()
    if value == "-":
        return None
    return Path(value) if value else DEFAULT_AUDIT_LOG


def _append(path: Path, event: Mapping[str, Any]) -> None:
    """One JSON line, flushed; the file stays open for the run (``close_audit``)."""
    line = json.dumps(event, default=str, ensure_ascii=False)
    with _lock:
        if _state.audit_file is None or _state.audit_file_path != path:
            close_audit()
            path.parent.mkdir(parents=True, exist_ok=True)
            _state.audit_file, _state.audit_file_path = path.open("a", encoding="utf-8"), path
        _state.audit_file.write(line + "\n")
        _state.audit_file.flush()


def close_audit() -> None:
    with _lock:
        if _state.audit_file is not None:
            _state.audit_file.close()
        _state.audit_file, _state.audit_file_path = None, None


def audit(event: str, /, level: str = "info", *, strict: bool = False, **fields: Any) -> None:
    """Log the event and append it to the audit file. With ``strict``, an audit file that cannot be written
    stops the command (before anything is changed); otherwise it is reported once and the run goes on."""
    path = audit_path()
    if path is not None:
        record = {
            "timestamp": datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z"),
            "level": level,
            "event": event,
            **fields,
        }
        try:
            _append(path, redact(record))
        except OSError as exc:
            if strict:
                typer.echo(f"error: cannot write the audit log {path}: {exc} (set {ENV_AUDIT_LOG})", err=True)
                raise typer.Exit(1) from exc
            if not _state.audit_failed:
                _state.audit_failed = True
                log("audit.write-failed", level="error", path=str(path), error=str(exc))
    log(event, level=level, **fields)


# --------------------------------------------------------------------------------------------- plan and apply


def _field_dicts(change: ResourceChange) -> list[dict[str, Any]]:
    return [{"path": f.path, "old": f.old, "new": f.new} for f in change.fields]


def redact_plan(plan: Plan) -> Plan:
    """The plan with secrets masked in every change (for showing and saving; apply re-reads anyway)."""
    from reconciler.core.changes import FieldChange

    r = redactor()

    def change(c: ResourceChange) -> ResourceChange:
        if (
            r.clean(c.before)
            and r.clean(c.after)
            and all(r.clean({"path": f.path, "old": f.old, "new": f.new}) for f in c.fields)
            and r.clean_text(c.reason)
            and r.clean_text(c.disruptive)
            and r.clean_text(c.error)
        ):
            return c  # nothing to mask: most changes of a large plan
        fields = tuple(
            FieldChange(path=f.path, old=masked["old"], new=masked["new"], immutable=f.immutable)
            for f, masked in zip(c.fields, r(_field_dicts(c)), strict=True)
        )
        return dataclasses.replace(
            c,
            before=r(c.before),
            after=r(c.after),
            fields=fields,
            reason=r.text(c.reason),
            disruptive=r.text(c.disruptive),
            error=r.text(c.error),
        )

    return dataclasses.replace(plan, changes=tuple(change(c) for c in plan.changes))


def _quiet() -> str:
    """The level of an event the console UI already shows (plan summary, apply progress): logged at
    debug on the console so the terminal is not told everything twice; JSON logs (shipped to a log
    store) keep it at info. The audit file records it whatever the level."""
    return "debug" if _state.fmt is LogFormat.console else "info"


def plan_done(plan: Plan) -> None:
    """``plan.done``: what the plan would do."""
    log(
        "plan.done",
        level=_quiet(),
        resources=len(plan.changes),
        pending=len(plan.pending),
        errors=len(plan.errors),
        counts=plan.counts(),
        targets=list(plan.targets),
        excludes=list(plan.excludes),
        spec_digest=plan.spec_digest,
    )


def drift_done(report: DriftReport) -> None:
    """``drift.done``: how many objects fall in each drift class."""
    log(
        "drift.done",
        level=_quiet(),
        objects=len(report.entries),
        counts=report.counts(),
        targets=list(report.targets),
        excludes=list(report.excludes),
        spec_digest=report.spec_digest,
    )


def who() -> tuple[str, str]:
    """The user and host running this command."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "?"
    return user, socket.gethostname()


class ApplyAudit:
    """One apply run's audit events: ``apply.start``, one ``apply.step`` per change, ``apply.end``."""

    def __init__(self, plan: Plan) -> None:
        import uuid

        self.run_id = uuid.uuid4().hex[:12]
        self.started = time.monotonic()
        self.changes = {c.address: c for c in plan.changes}

    def hooks(self, inner: applier.Hooks) -> applier.Hooks:
        """``inner`` (the progress printer) plus an audit event after each step; ``inner`` sees the result
        with secrets masked."""
        from reconciler.engine import applier

        audit_run = self

        class Audited(applier.Hooks):
            def __init__(self) -> None:
                # Every other hook the engine offers goes straight to the inner hooks.
                for name in dir(applier.Hooks):
                    if not name.startswith("_") and name != "post_apply":
                        setattr(self, name, getattr(inner, name))

            def post_apply(self, result: applier.StepResult) -> None:
                inner.post_apply(dataclasses.replace(result, message=redactor().text(result.message)))
                audit_run.step(result)

        return Audited()

    def step(self, result: applier.StepResult) -> None:
        change = self.changes.get(result.address)
        status = str(result.status)
        level = {"failed": "error", "skipped": "warning", "held": "warning"}.get(status, _quiet())
        audit(
            "apply.step",
            level=level,
            run_id=self.run_id,
            address=str(result.address),
            kind=result.address.kind,
            action=str(result.action),
            result=status,
            duration_s=round(result.duration_s, 3),
            attempts=result.attempts,
            message=result.message,
            disruptive=(change.disruptive or None) if change else None,
            before=change.before if change else None,
            after=change.after if change else None,
            fields=_field_dicts(change) if change else [],
        )

    def end(self, report: applier.ApplyReport) -> None:
        summary: dict[str, int] = {}
        for r in report.results:
            summary[str(r.status)] = summary.get(str(r.status), 0) + 1
        audit(
            "apply.end",
            level=_quiet() if report.ok else "error",
            run_id=self.run_id,
            ok=report.ok,
            steps=len(report.results),
            summary=summary,
            duration_s=round(time.monotonic() - self.started, 3),
        )
        close_audit()


def start_apply(plan: Plan, **context: Any) -> ApplyAudit:
    """``apply.start`` (pending counts, targets, who, and ``context`` such as the plan file); the audit file
    must be writable, or nothing is applied."""
    run = ApplyAudit(plan)
    counts: dict[str, int] = {}
    for c in plan.pending:
        counts[c.action.value] = counts.get(c.action.value, 0) + 1
    user, host = who()
    audit(
        "apply.start",
        level=_quiet(),
        strict=True,
        run_id=run.run_id,
        pending=len(plan.pending),
        counts=counts,
        targets=list(plan.targets),
        excludes=list(plan.excludes),
        spec_digest=plan.spec_digest,
        user=user,
        host=host,
        **context,
    )
    return run
