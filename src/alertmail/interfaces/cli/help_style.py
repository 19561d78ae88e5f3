"""Help that reads like git's or pip's: plain text, flags without a type, metavars in capitals.

Typer renders `--json <bool>` and `{assignments}`; this walks the finished command tree once, before
it runs, and gives every option and argument a conventional metavar (`--limit N`, `FIELD=VALUE...`)
and plain-text help. Options that name their own metavar keep it.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup

__all__ = ["plain_help"]


def plain_help(command: Any) -> Any:
    """`command` (a Typer command or group, as `typer.main.get_command` builds it), restyled."""
    if isinstance(command, (TyperCommand, TyperGroup)):
        command.rich_markup_mode = None
    for param in command.params:
        _name_metavar(param)
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)
    return command


def _name_metavar(param: Any) -> None:
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return
    if param.metavar is None:
        param.metavar = (param.name or "value").upper()
    if isinstance(param, TyperArgument):
        dots = "..." if param.nargs != 1 else ""
        # Typer writes a required argument as {name}; git and pip write NAME.
        usage = param.metavar + dots if param.required else f"[{param.metavar}]{dots}"
        param._usage_display_name = lambda: usage  # type: ignore[method-assign]
        param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
