"""``reconciler import``: write the specs of an existing estate (``runs.import_run``), from a seed naming the
sites' VMM servers and vaults and the tenants' plans and subscriptions (docs/import.md).

Only typer is imported at module level."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.plan_cmds import Estate


def import_(
    seed: Annotated[
        Path, typer.Option("--seed", metavar="FILE", help="The ImportSeed file: sites, tenants and their plans.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Folder to write the specs to.")] = Path(
        "specs"
    ),
    site: Annotated[
        list[str] | None, typer.Option("--site", metavar="NAME", help="Only this site and its tenants. Repeatable.")
    ] = None,
    tenant: Annotated[
        list[str] | None, typer.Option("--tenant", metavar="NAME", help="Only this tenant. Repeatable.")
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", metavar="KIND", help="Only items of this kind or family (vmm.cloud, asr). Repeatable."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite spec files that exist already.")] = False,
    estate: Estate = None,
) -> None:
    """Read the live estate through the configured backends and write it as specs (one file per site and tenant,
    plus profiles), with a comment on every value left to a default. Secrets are never written."""
    from rich.markup import escape

    from reconciler.cli.consoles import err
    from reconciler.cli.consoles import out as stdout
    from reconciler.cli.run_errors import exits_on_run_errors
    from reconciler.engine.inverse.documents import Selection
    from reconciler.reports import diagnostics as render
    from reconciler.runs import clock, import_run

    with exits_on_run_errors():
        try:
            loaded = import_run.load_seed(seed)
        except import_run.SeedInvalid as exc:
            render.text(err, exc.diagnostics, files=1, documents=0)
            raise typer.Exit(1) from exc
        selection = Selection(sites=tuple(site or ()), tenants=tuple(tenant or ()), kinds=tuple(kind or ()))
        result = import_run.import_estate(
            loaded, out, selection=selection, estate=estate, force=force, clock=clock.from_environ()
        )
    for path in result.written:
        stdout.print(f"wrote {escape(str(path))}", highlight=False)
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    errors = [d for d in result.diagnostics if d.is_error]
    if result.diagnostics:
        render.text(err, result.diagnostics, files=len(result.written), documents=result.documents)
    stdout.print(
        f"Imported {result.documents} documents into {len(result.written)} files ({result.rounds} discovery rounds)."
        + (" Review them, then: reconciler plan " + escape(str(out)) if not errors else ""),
        highlight=False,
    )
    if errors:
        err.print(
            f"[red]The specs in {escape(str(out))} do not validate:[/red] fix them (the estate may break a rule), or "
            "import what they reference (--site), before planning."
        )
        raise typer.Exit(1)
