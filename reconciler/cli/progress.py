"""What the CLI shows while a run works: the live read's progress bar and the note about a newly created
embedded estate, on stderr. The runs layer reports through hooks; these draw them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from reconciler.cli.consoles import err
from reconciler.runs import session as run_session

if TYPE_CHECKING:
    from reconciler.engine.refresh import Group
    from reconciler.runs.session import Session


class ReadBar(run_session.ReadProgress):
    """A transient bar on stderr: groups read out of the total, the group just read, the time elapsed."""

    def __init__(self) -> None:
        self._bar = Progress(
            TextColumn("[dim]reading live state[/dim]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        self._task: TaskID | None = None

    def begin(self) -> None:
        self._bar.start()
        self._task = self._bar.add_task("", total=None)

    def total(self, groups: int) -> None:
        if self._task is not None:
            self._bar.update(self._task, total=groups)

    def advance(self, group: Group, objects: int) -> None:
        if self._task is not None:
            self._bar.update(self._task, advance=1, description=group.scope)

    def end(self) -> None:
        self._bar.stop()


def read_progress(shown: bool) -> run_session.ReadProgress | None:
    """The bar when ``shown`` (a human reads stderr), else nothing."""
    return ReadBar() if shown else None


def noted(session: Session) -> Session:
    """``session``, after notes on stderr when it created the embedded estate, or could not read the
    procedure journal (plan and drift then say nothing about procedures earlier applies left half done)."""
    created = session.created_estate
    if created is not None:
        err.print(
            f"[dim]No embedded estate yet: created {created} from the shipped estate "
            "(reconciler estate init resets it).[/dim]"
        )
    if session.journal_unread:
        err.print(f"[yellow]warning:[/yellow] the procedure journal could not be read ({session.journal_unread}).")
    return session


def load(paths: Sequence[Path], *, targets: Sequence[str], excludes: Sequence[str], estate: Path | None) -> Session:
    """The run's session (:func:`reconciler.runs.session.load`), with the note of :func:`noted`."""
    return noted(run_session.load(paths, targets=targets, excludes=excludes, estate=estate))
