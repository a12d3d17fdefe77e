"""The audit trail of applies, and the events that close a plan or drift; see docs/logging.md.

``apply.start``, one ``apply.step`` per change and ``apply.end`` are logged (``runs/logs.py``) and also
appended, redacted the same way, as one JSON line each to the audit file (``RECONCILER_AUDIT_LOG``, default
``.reconciler/audit.jsonl``; ``-`` turns it off) whatever the log level. ``apply.start`` must be written
before anything is applied (:class:`~reconciler.runs.errors.AuditUnwritable` otherwise); a later write that
fails is reported once and the run goes on. ``redact_plan`` masks the secrets of a plan that is shown or saved.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from reconciler.runs.clock import SYSTEM, Clock
from reconciler.runs.errors import AuditUnwritable
from reconciler.runs.logs import log, quiet_level, redact, redactor

if TYPE_CHECKING:
    from reconciler.core.changes import Plan, ResourceChange
    from reconciler.engine import applier
    from reconciler.engine.drift import DriftReport

ENV_AUDIT_LOG = "RECONCILER_AUDIT_LOG"
DEFAULT_AUDIT_LOG = Path(".reconciler") / "audit.jsonl"


class _AuditFile:
    def __init__(self) -> None:
        self.stream: TextIO | None = None
        self.path: Path | None = None
        self.failed = False  # a write failed during this command (reported once)


_file = _AuditFile()
_lock = threading.RLock()


def reset() -> None:
    """A new command: close the file, forget an earlier failure (``logs.configure`` calls this)."""
    with _lock:
        close_audit()
        _file.failed = False


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
        if _file.stream is None or _file.path != path:
            close_audit()
            path.parent.mkdir(parents=True, exist_ok=True)
            _file.stream, _file.path = path.open("a", encoding="utf-8"), path
        _file.stream.write(line + "\n")
        _file.stream.flush()


def close_audit() -> None:
    with _lock:
        if _file.stream is not None:
            _file.stream.close()
        _file.stream, _file.path = None, None


def audit(event: str, /, level: str = "info", *, strict: bool = False, clock: Clock = SYSTEM, **fields: Any) -> None:
    """Log the event and append it to the audit file. With ``strict``, an audit file that cannot be written
    raises :class:`AuditUnwritable` (before anything is changed); otherwise it is reported once and the run
    goes on."""
    path = audit_path()
    if path is not None:
        record = {
            "timestamp": clock.now().isoformat().replace("+00:00", "Z"),
            "level": level,
            "event": event,
            **fields,
        }
        try:
            _append(path, redact(record))
        except OSError as exc:
            if strict:
                raise AuditUnwritable(path, exc, variable=ENV_AUDIT_LOG) from exc
            if not _file.failed:
                _file.failed = True
                log("audit.write-failed", level="error", path=str(path), error=str(exc))
    log(event, level=level, **fields)


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


def plan_done(plan: Plan) -> None:
    """``plan.done``: what the plan would do."""
    log(
        "plan.done",
        level=quiet_level(),
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
        level=quiet_level(),
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

    def __init__(self, plan: Plan, *, clock: Clock = SYSTEM, run_id: str | None = None) -> None:
        import uuid

        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.clock = clock  # the events' timestamps
        self.started = time.monotonic()
        self.changes = {c.address: c for c in plan.changes}

    def hooks(self, inner: applier.Hooks) -> applier.Hooks:
        """``inner`` (the progress printer) plus an audit event after each step; ``inner`` sees step results
        and progress messages with secrets masked."""
        from reconciler.engine import applier

        audit_run = self

        class Audited(applier.Hooks):
            def __init__(self) -> None:
                # Every other hook the engine offers goes straight to the inner hooks.
                for name in dir(applier.Hooks):
                    if not name.startswith("_") and name not in ("post_apply", "progress"):
                        setattr(self, name, getattr(inner, name))

            def post_apply(self, result: applier.StepResult) -> None:
                inner.post_apply(dataclasses.replace(result, message=redactor().text(result.message)))
                audit_run.step(result)

            def progress(self, change: ResourceChange, message: str) -> None:
                inner.progress(change, redactor().text(message))

        return Audited()

    def step(self, result: applier.StepResult) -> None:
        change = self.changes.get(result.address)
        status = str(result.status)
        # A held step is expected (it waits for its window) and the UI shows it already: not a warning.
        level = {"failed": "error", "skipped": "warning"}.get(status, quiet_level())
        audit(
            "apply.step",
            level=level,
            clock=self.clock,
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
            level=quiet_level() if report.ok else "error",
            clock=self.clock,
            run_id=self.run_id,
            ok=report.ok,
            stopped=report.stopped or None,  # why the run was cut short (a signal, its deadline)
            steps=len(report.results),
            summary=summary,
            duration_s=round(time.monotonic() - self.started, 3),
        )
        close_audit()


def start_apply(plan: Plan, *, clock: Clock = SYSTEM, run_id: str | None = None, **context: Any) -> ApplyAudit:
    """``apply.start`` (pending counts, targets, who, and ``context`` such as the plan file); the audit file
    must be writable, or nothing is applied. The run's events are timed by ``clock``; ``run_id`` is the one
    its locks carry (a new one when not given)."""
    run = ApplyAudit(plan, clock=clock, run_id=run_id)
    counts: dict[str, int] = {}
    for c in plan.pending:
        counts[c.action.value] = counts.get(c.action.value, 0) + 1
    user, host = who()
    audit(
        "apply.start",
        level=quiet_level(),
        strict=True,
        clock=clock,
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
