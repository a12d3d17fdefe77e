"""What plan and apply share: load and validate the specs, open the backends, read the live state
with a progress bar on stderr, and plan."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from reconciler.cli import render
from reconciler.core.addresses import Address
from reconciler.core.changes import Plan
from reconciler.core.errors import ReconcilerError
from reconciler.core.memory import no_cyclic_gc
from reconciler.core.resources import Observed, Resource
from reconciler.engine import expand, planner, refresh
from reconciler.providers.embedded.seed import EstateFileError
from reconciler.providers.registry import Backends, open_backends
from reconciler.spec.loader import SpecSet, load_paths

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


@dataclass
class Session:
    resources: list[Resource]
    all_resources: list[Resource]
    backends: Backends
    spec_paths: list[str]
    specs: SpecSet  # the validated documents (drift's health watches read the power profiles)
    # Procedures earlier applies left half done (a host in maintenance), by the address they carry out.
    unfinished: dict[Address, str] = field(default_factory=dict)

    def release(self) -> None:
        """Let the resources and the spec documents go (a command that only reports what it planned no
        longer needs them): what it builds next reuses their memory."""
        self.resources, self.all_resources, self.specs = [], [], SpecSet()


def load(paths: Sequence[Path], *, targets: Sequence[str], excludes: Sequence[str], estate: Path | None) -> Session:
    """Validated specs -> resources, and open backends; on bad specs print diagnostics and exit 1."""
    result = load_paths(paths)
    if not result.ok:
        render.text(err, result.diagnostics, files=len(result.specs.files), documents=len(result.specs))
        err.print("[red]Fix the specs first: nothing was read or changed.[/red]")
        raise typer.Exit(1)
    with no_cyclic_gc():
        resources = expand.expand(result.specs)
    chosen = planner.select(resources, targets=targets, excludes=excludes)
    if (targets or excludes) and not chosen:
        err.print(
            "[red]--target/--exclude selected no resource.[/red] Use an address, tenant/NAME, site/NAME or a kind."
        )
        raise typer.Exit(1)
    try:
        backends = open_backends(estate, specs=result.specs)
    except EstateFileError as exc:
        render.text(err, exc.diagnostics, files=1, documents=0)
        raise typer.Exit(1) from exc
    except ValueError as exc:  # a bad RECONCILER_EMBEDDED_* setting
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    if backends.initialized:
        err.print(
            f"[dim]No embedded estate yet: created {backends.estate_db} from the shipped estate "
            "(reconciler estate init resets it).[/dim]"
        )
    # Absolute, so that apply PLANFILE finds the specs from any working directory.
    session = Session(chosen, resources, backends, [str(Path(p).resolve()) for p in paths], result.specs)
    session.unfinished = unfinished_procedures()
    return session


def unfinished_procedures() -> dict[Address, str]:
    """What the procedure journal (in the history store) says earlier applies left half done, as the notes
    plan and drift show. A store that cannot be read leaves them out, with a warning: plan still works."""
    from sqlalchemy.exc import SQLAlchemyError

    from reconciler.store import db, journal

    try:
        with db.open_store(None) as store:
            records = journal.StoreJournal(store).unfinished()
    except (SQLAlchemyError, OSError) as exc:
        err.print(f"[yellow]warning:[/yellow] the procedure journal could not be read ({type(exc).__name__}).")
        return {}
    return {r.address: r.note() for r in records}


def read_live(
    session: Session,
    *,
    progress: bool = True,
    on_batch: Callable[[Mapping[Address, Observed | None]], None] | None = None,
    read_concurrency: int | None = None,
) -> dict[Address, Observed | None]:
    """Read the live state (bulk, parallel) with a progress bar on stderr; provider errors end the
    command cleanly (exit 1)."""
    bar = Progress(
        TextColumn("[dim]reading live state[/dim]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not progress,
    )
    try:
        with bar:
            task = bar.add_task("", total=None)

            def total(n: int) -> None:
                bar.update(task, total=n)

            def advance(group: refresh.Group, _n: int) -> None:
                bar.update(task, advance=1, description=f"{group.kind} {group.scope}")

            return refresh.read_all(
                session.resources,
                session.backends.router,
                on_group=advance,
                on_total=total,
                on_batch=on_batch,
                concurrency=read_concurrency or read_concurrency_setting(),
            )
    except ReconcilerError as exc:
        err.print(f"[red]error:[/red] reading the live state failed: {exc}")
        raise typer.Exit(1) from exc


READ_CONCURRENCY_ENV = "RECONCILER_READ_CONCURRENCY"


def read_concurrency_setting(environ: Mapping[str, str] | None = None) -> int:
    """List calls in flight while reading the live state: ``RECONCILER_READ_CONCURRENCY`` (1-256), default
    32. Lower it when an endpoint throttles (many subscriptions in one Azure AD tenant share its limits)."""
    from reconciler.cli import failures

    return failures.whole_number_setting(
        READ_CONCURRENCY_ENV, low=1, high=256, default=refresh.DEFAULT_CONCURRENCY, environ=environ
    )


def make_plan(
    session: Session,
    *,
    targets: Sequence[str],
    excludes: Sequence[str],
    progress: bool = True,
    prune: bool = False,
    read_concurrency: int | None = None,
) -> Plan:
    """Read the live state (bulk, parallel) and plan; provider errors end the command cleanly."""
    with no_cyclic_gc():  # tens of thousands of observed objects and changes, none of them cyclic garbage
        return _plan(
            session,
            targets=targets,
            excludes=excludes,
            progress=progress,
            prune=prune,
            read_concurrency=read_concurrency,
        )


def _plan(
    session: Session,
    *,
    targets: Sequence[str],
    excludes: Sequence[str],
    progress: bool,
    prune: bool,
    read_concurrency: int | None,
) -> Plan:
    planned = planner.Pending(session.resources, unfinished=session.unfinished)  # plan each group as it arrives
    observed = read_live(session, progress=progress, on_batch=planned.feed, read_concurrency=read_concurrency)
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
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
