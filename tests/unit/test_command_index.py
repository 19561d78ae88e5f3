"""The root listing of `alertmail --help` comes from command_index.COMMANDS, without importing the
commands: each summary there must be what the command's own help says, or the listing would lie."""

from __future__ import annotations

import pytest
import typer
from typer.core import TyperCommand

from alertmail.interfaces.cli.command_index import COMMANDS
from alertmail.interfaces.cli.help_style import plain_help
from alertmail.interfaces.cli.main import app


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_summary_is_the_first_sentence_of_the_commands_own_help(name: str) -> None:
    command = COMMANDS[name].load(name)
    listed = TyperCommand(name, help=COMMANDS[name].summary)
    # Equal at every width the listing may shorten them to, and whole.
    for limit in (20, 45, 63, 80, 10_000):
        assert listed.get_short_help_str(limit) == command.get_short_help_str(limit)
    assert command.get_short_help_str(10_000) == COMMANDS[name].summary


def test_the_root_help_lists_every_command_and_runs_each_by_its_name() -> None:
    root = plain_help(typer.main.get_command(app))
    context = typer.Context(root, info_name="alertmail")
    listing = root.get_help(context).split("Commands:")[1]
    assert [line.split()[0] for line in listing.strip().splitlines()] == list(COMMANDS)
    for name in COMMANDS:
        _, command, _ = root.resolve_command(context, [name])
        assert command is not None
        assert command.name == name


def test_a_mistyped_command_is_answered_with_the_closest_names() -> None:
    root = typer.main.get_command(app)
    context = typer.Context(root, info_name="alertmail")
    with pytest.raises(Exception, match=r"No such command 'setings'\. Did you mean 'settings'\?"):
        root.resolve_command(context, ["setings"])
