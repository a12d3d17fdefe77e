"""Why a run stopped, as typed values: the runs layer raises them, the CLI renders each kind in its own
words (diagnostics with their source lines, the lock's holder) and exits 1.

Every one is raised before the run changed anything, or, for a change already under way, never: once an
apply has started, trouble writing the history or the audit trail is a warning, not a stop. ``str()`` of
each is one line naming what to fix, for callers that show no more than that (a watch cycle's log).
Only light imports here: the CLI imports this module to render an error."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.core.diagnostics import Diagnostic
    from reconciler.store.locks import LockHeld


class RunError(Exception):
    """A run stopped for a reason the user can act on; see the module docstring."""


class SpecsInvalid(RunError):
    """The specs do not validate: nothing was read or changed."""

    def __init__(self, diagnostics: Sequence[Diagnostic], *, files: int, documents: int) -> None:
        errors = sum(1 for d in diagnostics if d.is_error)
        super().__init__(f"the specs have {errors} error{'s' * (errors != 1)}: fix them first")
        self.diagnostics = list(diagnostics)
        self.files = files
        self.documents = documents


class NothingSelected(RunError):
    """``--target``/``--exclude`` left no resource."""

    def __init__(self) -> None:
        super().__init__("--target/--exclude selected no resource")


class EstateInvalid(RunError):
    """The embedded estate file does not load (its diagnostics say where)."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        super().__init__(diagnostics[0].message if diagnostics else "the estate file does not load")
        self.diagnostics = list(diagnostics)


class BadEnvironment(RunError):
    """A backend setting in the environment is wrong (the message names the variable)."""


class BadSetting(RunError):
    """A numeric setting in the environment is out of range (the message names the variable and the range)."""


class LiveReadFailed(RunError):
    """A provider could not read the live state: a plan on a partial read would propose wrong changes."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"reading the live state failed: {cause}")
        self.cause = cause


class ScopeLocked(RunError):
    """Another apply holds one of the run's scopes (still, after ``waited_s`` seconds)."""

    def __init__(self, held: LockHeld, *, waited_s: float) -> None:
        super().__init__(f"{held.scope} is locked by {held.holder} pid {held.pid} ({held.command})")
        self.held = held
        self.waited_s = waited_s


class LockStoreFailed(RunError):
    """The store that keeps the scope locks cannot be used (``url`` as shown: password masked)."""

    def __init__(self, url: str, cause: BaseException) -> None:
        super().__init__(f"cannot take the apply locks in {url}: {cause}")
        self.url = url
        self.cause = cause


class AuditUnwritable(RunError):
    """The audit file cannot be written, so nothing is applied (``variable`` names where it is set)."""

    def __init__(self, path: Path, cause: BaseException, *, variable: str) -> None:
        super().__init__(f"cannot write the audit log {path}: {cause} (set {variable})")
        self.path = path
        self.cause = cause
        self.variable = variable


class HistoryUnusable(RunError):
    """The history store cannot record an apply, so nothing is applied."""

    def __init__(self, url: str, cause: BaseException) -> None:
        super().__init__(f"cannot record the run in the history store {url}: {cause}")
        self.url = url
        self.cause = cause


class DriftStoreFailed(RunError):
    """Drift cannot ``open`` or ``read`` the history store: it needs what apply last applied."""

    def __init__(self, what: str, url: str, cause: BaseException) -> None:
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        super().__init__(f"cannot {what} the history store {url}: {first}")
        self.what = what
        self.url = url
        self.first_line = first


class RunInterrupted(RunError):
    """The run was stopped (a signal, its deadline) before it changed anything: while it waited for the
    locks or read the live state. An apply stopped while changing things is not an error: its outcome says
    what was done (``ApplyReport.stopped``)."""

    def __init__(self, reason: str, *, during: str, signalled: bool = True) -> None:
        super().__init__(f"interrupted ({reason}) while {during}: nothing was changed")
        self.reason = reason
        self.during = during
        self.signalled = signalled  # a signal (exit 130), not the run's deadline (exit 1)


class SavedPlanUnreadable(RunError):
    """A plan file is not a plan this version can apply."""

    def __init__(self, path: Path, cause: BaseException) -> None:
        super().__init__(f"{path}: {cause}")
        self.path = path
        self.cause = cause


class PlanStale(RunError):
    """The specs or the live objects changed since a saved plan was made: it is not what was reviewed."""

    def __init__(self, headline: str, changes: Sequence[str]) -> None:
        super().__init__(f"{headline}: refusing to apply a plan nobody reviewed")
        self.headline = headline
        self.changes = list(changes)
