"""``reconciler estate init|show``: reset and inspect the embedded estate."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from reconciler.cli.group import ReconcilerGroup

if TYPE_CHECKING:
    from rich.console import Console

estate_app = typer.Typer(
    help="The embedded estate: a local stand-in for VMM, Hyper-V, BMCs and Azure.", cls=ReconcilerGroup
)


def _consoles() -> tuple[Console, Console]:
    """stdout and stderr consoles, made when a command runs (rich is not imported for --help)."""
    from rich.console import Console

    return Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)


Db = Annotated[
    Path | None,
    typer.Option(
        "--estate", metavar="FILE", help="Estate database (default .reconciler/estate.db or $RECONCILER_ESTATE)."
    ),
]


class ShowFormat(enum.StrEnum):
    text = "text"
    yaml = "yaml"
    json = "json"


@estate_app.command("init")
def init(
    source: Annotated[
        Path | None,
        typer.Option("--from", metavar="FILE", help="Estate file (default: the shipped contoso-west estate)."),
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
    fmt: Annotated[
        ShowFormat,
        typer.Option("--format", "-f", metavar="[text|yaml|json]", help="text, yaml (an estate file) or json."),
    ] = (ShowFormat.text),
    kind: Annotated[
        str | None, typer.Option("--kind", metavar="KIND", help="Only this kind, e.g. hyperv.vm_memory.")
    ] = None,
    scope: Annotated[str | None, typer.Option("--scope", metavar="SCOPE", help="Only this tenant or site.")] = None,
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
    if not out.is_terminal:  # piped: one line per object, whole (a folded table is unreadable there)
        _plain_lines(objects, db)
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


def _plain_lines(objects: list[dict[str, Any]], db: Path) -> None:
    """``kind:scope/name data={...} status={...} owned``, one object per line, after a header line: what
    grep, less and a diff read well."""
    typer.echo(f"# embedded estate {db}: {len(objects)} objects")
    for o in objects:
        status = o.get("status") or {}
        line = f"{o['kind']}:{o['scope']}/{o['name']} data={json.dumps(o['data'], sort_keys=True)}"
        line += f" status={json.dumps(status, sort_keys=True)}" if status else ""
        typer.echo(line + (" owned" if o.get("owned") else ""))
