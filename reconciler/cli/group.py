"""The command groups of the CLI (``reconciler`` and ``reconciler estate``): typer's, with two changes.

- A usage error (an unknown option, a misspelt command, a bad value) exits 64, ``EX_USAGE`` of BSD's
  sysexits, not Click's 2: 2 is what ``drift``, ``watch --once`` and ``plan --detailed-exitcode`` exit with
  when they find something, so a scheduled ``drift --fromat json || [ $? -eq 2 ]`` would hide the typo.
- Arguments show in help as Click shows them (``PATH``, ``[PATH]...``), not with typer's Python types
  (``<list[Path]>``) and braces (``{RUN_ID}``)."""

from __future__ import annotations

from typing import Any

from typer._click.core import Command, Context
from typer._click.exceptions import UsageError  # typer carries its own copy of Click: its errors are these
from typer.core import TyperArgument, TyperGroup

USAGE_EXIT = 64


class PlainArgument(TyperArgument):
    """An argument shown by its metavar alone: ``PATH`` when required, ``[PATH]`` when not, ``...`` when
    it repeats."""

    def display_type_rich(self, ctx: Context) -> str | None:
        return None

    def _rich_display_name(self) -> str:
        return self.display_name_raw + ("..." if self.nargs != 1 else "")

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")


class ReconcilerGroup(TyperGroup):
    """See the module docstring."""

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        for param in command.params if command is not None else ():
            if type(param) is TyperArgument:
                param.__class__ = PlainArgument  # same state, plainer help
        return command

    def make_context(
        self, info_name: str | None, args: list[str], parent: Context | None = None, **extra: Any
    ) -> Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except UsageError as exc:
            exc.exit_code = USAGE_EXIT
            raise

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            exc.exit_code = USAGE_EXIT
            raise
