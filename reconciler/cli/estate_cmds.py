"""``reconciler estate init|show``: reset and inspect the embedded estate."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

estate_app = typer.Typer(help="The embedded estate: a local stand-in for VMM, Hyper-V, BMCs and Azure.")


def _consoles() -> tuple[Console, Console]:
    """stdout and stderr consoles, made when a command runs (rich is not imported for --help)."""
    from rich.console import Console

    return Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)


Db = Annotated[
    Path | None,
    typer.Option("--estate", help="Estate database (default .reconciler/estate.db or $RECONCILER_ESTATE)."),
]


class ShowFormat(enum.StrEnum):
    text = "text"
    yaml = "yaml"
    json = "json"


@estate_app.command("init")
def init(
    source: Annotated[
        Path | None, typer.Option("--from", help="Estate file (default: the shipped contoso-west estate).")
    ] = None,
    estate: Db = None,
) -> None:
    """Reset the embedded estate from an estate file: what exists before the tool runs."""
    from reconciler.providers.embedded import seed
    from reconciler.reports import diagnostics as render

    out, err = _consoles()
    db = seed.database_path(estate)
    if source is not None and not source.is_file():
        err.print(f"[red]error:[/red] estate file {source} does not exist")
        raise typer.Exit(1)
    try:
        count = seed.init_estate(db, source)
    except seed.EstateFileError as exc:
        render.text(err, exc.diagnostics, files=1, documents=0)
        raise typer.Exit(1) from exc
    shown = source or seed.default_estate_file().name
    out.print(f"Embedded estate {db} reset from {shown}: {count} objects.")


@estate_app.command("show")
def show(
    fmt: Annotated[ShowFormat, typer.Option("--format", "-f", help="text, yaml (an estate file) or json.")] = (
        ShowFormat.text
    ),
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind, e.g. hyperv.vm_memory.")] = None,
    scope: Annotated[str | None, typer.Option("--scope", help="Only this tenant or site.")] = None,
    estate: Db = None,
) -> None:
    """Print the embedded estate."""
    import yaml
    from rich.markup import escape
    from rich.table import Table

    from reconciler.providers.embedded import seed
    from reconciler.providers.embedded.store import EstateStore

    out, err = _consoles()
    db = seed.database_path(estate)
    if not db.exists():
        err.print(f"[red]No embedded estate at {db}.[/red] Create one with: reconciler estate init")
        raise typer.Exit(1)
    store = EstateStore(db)
    try:
        document = seed.dump(store)
    finally:
        store.close()
    objects = [
        o for o in document["objects"] if (kind is None or o["kind"] == kind) and (scope is None or o["scope"] == scope)
    ]
    document["objects"] = objects
    if fmt is ShowFormat.yaml:
        typer.echo(yaml.safe_dump(document, sort_keys=False, width=110), nl=False)
        return
    if fmt is ShowFormat.json:
        typer.echo(json.dumps(document, indent=2))
        return
    table = Table(title=f"embedded estate {db}", show_lines=False)
    for column in ("kind", "scope", "name", "data", "status", "owned"):
        table.add_column(column, overflow="fold")
    for o in objects:
        table.add_row(
            o["kind"],
            o["scope"],
            escape(o["name"]),
            escape(json.dumps(o["data"], sort_keys=True)),
            escape(json.dumps(o.get("status", {}), sort_keys=True)),
            "yes" if o.get("owned") else "",
        )
    out.print(table)
