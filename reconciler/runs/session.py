"""What every run starts with: load and validate the specs, expand them into resources, select the targets,
open the backends; then read the live state and plan.

Nothing here prints: bad specs, an empty selection, a bad estate file or setting, a provider that cannot
be read all raise a :class:`~reconciler.runs.errors.RunError` the caller renders, and the live read reports
its progress through :class:`ReadProgress`. This module is the one place that opens the backends
(``open_backends``) and reads the live state (``refresh.read_all``), and the session hands out the routing
table (``Session.router``): the provider seams change behind these calls."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.core.addresses import Address
from reconciler.core.changes import Plan
from reconciler.core.errors import ReconcilerError
from reconciler.core.memory import no_cyclic_gc
from reconciler.core.resources import Observed, Resource
from reconciler.engine import expand, planner, refresh, selection
from reconciler.engine.stop import NEVER, Stop, Stopped
from reconciler.providers.embedded.seed import EstateFileError
from reconciler.providers.registry import Backends, open_backends
from reconciler.providers.routing import Router
from reconciler.runs.clock import SYSTEM, Clock
from reconciler.runs.errors import (
    BadEnvironment,
    BadSetting,
    EstateInvalid,
    LiveReadFailed,
    NothingSelected,
    RunInterrupted,
    SpecsInvalid,
)
from reconciler.runs.settings import whole_number_setting
from reconciler.spec.loader import SpecSet, load_paths
from reconciler.spec.parse_cache import ParseCache

READ_CONCURRENCY_ENV = "RECONCILER_READ_CONCURRENCY"


@dataclass
class Session:
    resources: list[Resource]  # the selected ones (--target/--exclude)
    all_resources: list[Resource]  # every resource of the specs: the digest and what counts as declared
    backends: Backends
    spec_paths: list[str]  # absolute, so that apply PLANFILE finds the specs from any working directory
    specs: SpecSet  # the validated documents (drift's health watches read the power profiles)
    # Procedures earlier applies left half done (a host in maintenance), by the address they carry out.
    unfinished: dict[Address, str] = field(default_factory=dict)
    journal_unread: str = ""  # why the procedure journal could not be read (the error's type), if it could not

    @property
    def router(self) -> Router:
        """Which backend serves each resource (what the live read and the applier are handed)."""
        return self.backends.router

    @property
    def created_estate(self) -> Path | None:
        """The embedded estate this session created from the shipped estate file, if it did (worth a note)."""
        return self.backends.estate_db if self.backends.initialized else None

    def close(self) -> None:
        """Close the backends (connections, the ownership ledger)."""
        self.backends.close()

    def release(self) -> None:
        """Let the resources and the spec documents go (a command that only reports what it planned no
        longer needs them): what it builds next reuses their memory."""
        self.resources, self.all_resources, self.specs = [], [], SpecSet()


def load(paths: Sequence[Path], *, targets: Sequence[str], excludes: Sequence[str], estate: Path | None) -> Session:
    """Validated specs -> resources (the selected ones), and the backends opened. Raises
    :class:`SpecsInvalid`, :class:`NothingSelected`, :class:`EstateInvalid` or :class:`BadEnvironment`."""
    result = load_paths(paths, cache=ParseCache.from_environ())  # parsed files kept from one command to the next
    if not result.ok:
        raise SpecsInvalid(result.diagnostics, files=len(result.specs.files), documents=len(result.specs))
    with no_cyclic_gc():
        resources = expand.expand(result.specs)
    chosen = selection.select(resources, targets=targets, excludes=excludes)
    if (targets or excludes) and not chosen:
        raise NothingSelected()
    try:
        backends = open_backends(estate, specs=result.specs)
    except EstateFileError as exc:
        raise EstateInvalid(exc.diagnostics) from exc
    except ValueError as exc:  # a bad RECONCILER_EMBEDDED_* or provider setting
        raise BadEnvironment(str(exc)) from exc
    session = Session(chosen, resources, backends, [str(Path(p).resolve()) for p in paths], result.specs)
    session.unfinished, session.journal_unread = _unfinished_procedures()
    return session


def _unfinished_procedures() -> tuple[dict[Address, str], str]:
    """What the procedure journal (in the history store) says earlier applies left half done, as the notes
    plan and drift show, and why it could not be read if it could not (plan still works without them)."""
    from reconciler.store import db, journal

    try:
        with db.open_store(None) as store:
            records = journal.StoreJournal(store).unfinished()
    except (db.StoreError, OSError) as exc:
        return {}, type(exc).__name__
    return {r.address: r.note() for r in records}, ""


class ReadProgress:
    """How the live read reports its progress (the CLI draws a bar); this default shows nothing. ``begin``
    and ``end`` bracket the read, ``end`` also when it fails."""

    def begin(self) -> None:
        pass

    def total(self, groups: int) -> None:
        """How many groups (one provider round trip each) the read has."""

    def advance(self, group: refresh.Group, objects: int) -> None:
        """One group (a kind, a read scope, its provider) came back with ``objects`` objects."""

    def end(self) -> None:
        pass


def read_concurrency_setting(environ: Mapping[str, str] | None = None) -> int:
    """List calls in flight while reading the live state: ``RECONCILER_READ_CONCURRENCY`` (1-256), default
    32. Lower it when an endpoint throttles (many subscriptions in one Azure AD tenant share its limits)."""
    return whole_number_setting(
        READ_CONCURRENCY_ENV, low=1, high=256, default=refresh.DEFAULT_CONCURRENCY, environ=environ
    )


def read_live(
    session: Session,
    *,
    progress: ReadProgress | None = None,
    on_batch: Callable[[Mapping[Address, Observed | None]], None] | None = None,
    read_concurrency: int | None = None,
    stop: Stop = NEVER,
) -> dict[Address, Observed | None]:
    """Read the live state of the session's resources (bulk, parallel); a provider error raises
    :class:`LiveReadFailed`, a bad ``RECONCILER_READ_CONCURRENCY`` :class:`BadSetting`, a ``stop`` (a signal,
    the run's deadline) :class:`RunInterrupted` at once. A temporary error's retry is logged (``read.retry``)
    with how long it waits (a throttled endpoint's Retry-After, capped: ``RECONCILER_RETRY_AFTER_MAX_S``)."""
    concurrency = read_concurrency or read_concurrency_setting()
    try:
        refresh.retry_after_max_s()  # checked here, with the other settings, before anything is read
    except ValueError as exc:
        raise BadSetting(str(exc)) from None
    shown = progress or ReadProgress()
    shown.begin()
    try:
        return refresh.read_all(
            session.resources,
            session.router,
            on_group=shown.advance,
            on_total=shown.total,
            on_batch=on_batch,
            on_retry=_log_retry,
            concurrency=concurrency,
            stop=stop,
        )
    except Stopped as exc:
        raise RunInterrupted(exc.reason, during="reading the live state", signalled=stop.signalled) from exc
    except ReconcilerError as exc:
        raise LiveReadFailed(exc) from exc
    finally:
        shown.end()


def _log_retry(what: str, exc: BaseException, wait_s: float) -> None:
    """A read's retry: a warning when a server makes it wait long (its Retry-After), else only at debug level
    (an endpoint that is down retries every group a few times: one line says so, not dozens)."""
    from reconciler.runs import logs

    level = "warning" if wait_s >= refresh.LONG_WAIT_S else "debug"
    logs.log("read.retry", level=level, group=what, wait_s=round(wait_s, 1), error=str(exc))


def make_plan(
    session: Session,
    *,
    targets: Sequence[str],
    excludes: Sequence[str],
    progress: ReadProgress | None = None,
    prune: bool = False,
    read_concurrency: int | None = None,
    clock: Clock = SYSTEM,
    stop: Stop = NEVER,
) -> Plan:
    """Read the live state (bulk, parallel) and plan, made at ``clock``'s now; the errors of :func:`read_live`."""
    with no_cyclic_gc():  # tens of thousands of observed objects and changes, none of them cyclic garbage
        planned = planner.Pending(session.resources, unfinished=session.unfinished)  # each group as it returns
        observed = read_live(
            session, progress=progress, on_batch=planned.feed, read_concurrency=read_concurrency, stop=stop
        )
        now = clock.now().isoformat(timespec="seconds")
        # The digest covers every resource of the specs, not just the targeted ones: a saved plan is
        # stale when any spec changed.
        return planner.make_plan(
            session.resources,
            observed,
            planned=planned,
            created_at=now,
            targets=targets,
            excludes=excludes,
            prune=prune,
            digest=planner.spec_digest(session.all_resources),
            declared=session.all_resources,  # what a --target leaves out is still declared: never pruned
            unfinished=session.unfinished,
        )
