"""``reconciler fmt``: rewrite spec files in canonical form (``spec.fmt``: key order, quoting, indentation;
comments kept), or with ``--check`` only say which files are not (exit 1), for CI and the pre-commit hook.

Only typer is imported at module level."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated

import typer


def fmt(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(metavar="PATH", help="Spec files or folders (default: specs/).", show_default=False),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Change nothing; exit 1 when a file is not in canonical form.")
    ] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Show what would change, as a unified diff.")] = False,
) -> None:
    """Write specs in canonical form: key order, quoting and indentation, comments kept."""
    from reconciler.spec import fmt as spec_fmt
    from reconciler.spec.loader import discover

    files, problems = discover(paths or [Path("specs")])
    for problem in problems:
        typer.echo(f"error: {problem.location}: {problem.message}", err=True)
    failed = bool(problems)
    changed: list[spec_fmt.Formatted] = []
    for path in files:
        before = path.read_text(encoding="utf-8")
        try:
            after = spec_fmt.format_text(before, name=str(path))
        except spec_fmt.FormatError as exc:
            typer.echo(f"error: {exc}", err=True)
            failed = True
            continue
        if after != before:
            changed.append(spec_fmt.Formatted(str(path), before, after))
    for item in changed:
        if diff:
            lines = difflib.unified_diff(
                item.before.splitlines(True), item.after.splitlines(True), f"a/{item.path}", f"b/{item.path}"
            )
            typer.echo("".join(lines), nl=False)
        if check:
            typer.echo(f"would reformat {item.path}")
        else:
            partial = Path(item.path + ".partial")
            partial.write_text(item.after, encoding="utf-8")
            partial.replace(item.path)
            typer.echo(f"reformatted {item.path}")
    if check and changed:
        typer.echo(f"{len(changed)} of {len(files)} files not in canonical form: run reconciler fmt", err=True)
    elif not changed and not failed:
        typer.echo(f"{len(files)} files in canonical form")
    raise typer.Exit(1 if failed or (check and changed) else 0)
