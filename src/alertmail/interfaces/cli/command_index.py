"""Every `alertmail` command, where it lives, and its one-line summary: the root's lazy listing.

`alertmail --help` lists every command with its summary; importing the commands to read their
help would load what they use (the services, SQLAlchemy, pydantic), most of a second for a list
of names. So the root group (click's documented "LazyGroup" pattern, over Typer's group) lists
them from this table and imports a command's module only when that command runs or its own help
is asked. The summaries here are the first sentence of each command's own help: a test holds
them equal, so the listing cannot drift from the commands.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from types import MappingProxyType
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from alertmail.interfaces.cli.help_style import plain_help

__all__ = ["COMMANDS", "CommandEntry", "LazyCommandGroup", "single_command"]

_CLI = "alertmail.interfaces.cli."


@dataclass(frozen=True)
class CommandEntry:
    """A command of the root group: `module.attribute` is a `typer.Typer` (a group of commands)
    or a function (one command, built with `settings` as Typer's `command()` arguments)."""

    module: str
    attribute: str
    summary: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def load(self, name: str) -> Any:
        """The command as Typer builds it, in the plain help style."""
        target = getattr(importlib.import_module(_CLI + self.module), self.attribute)
        if isinstance(target, typer.Typer):
            command: Any = typer.main.get_group(target)
        else:
            command = single_command(target, name, **self.settings)
        command.name = name
        return plain_help(command)


def single_command(function: Any, name: str, **settings: Any) -> Any:
    """The click command Typer makes of `function` alone."""
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    holder.command(name, **settings)(function)
    return typer.main.get_command(holder)


# In the order `alertmail --help` lists them (Typer's: single commands, then groups).
COMMANDS: Mapping[str, CommandEntry] = MappingProxyType(
    {
        "notify": CommandEntry(
            "event_commands",
            "notify",
            "Raise an event: it is recorded and mailed to the admin contacts (or folded into a digest).",
        ),
        "worker": CommandEntry(
            "event_commands",
            "worker",
            "Deliver queued mail (the primary also runs the schedule) without the web UI and API; "
            "Ctrl-C stops.",
        ),
        "serve": CommandEntry(
            "serve_command",
            "serve",
            "Serve the web UI and the REST API on http://HOST:PORT, and deliver queued mail.",
        ),
        "test-email": CommandEntry(
            "top_commands",
            "test_email",
            "Send a test e-mail with the saved settings, or with some values changed by --with "
            "(nothing is saved).",
        ),
        "logs": CommandEntry(
            "top_commands",
            "logs",
            "Mail Server Logs: every failed send, classified, with the settings in force at the time.",
        ),
        "sendmail": CommandEntry(
            "top_commands",
            "sendmail",
            "Queue the message on stdin, sendmail-style: [-t] [-i] [-f FROM] [RECIPIENT ...] (see --help).",
            # sendmail's flags (-oi, -fFROM, -t ...) are not Typer's: they go through untouched,
            # --help too.
            {
                "context_settings": {
                    "allow_extra_args": True,
                    "ignore_unknown_options": True,
                    "help_option_names": [],
                },
                "add_help_option": False,
            },
        ),
        "settings": CommandEntry("settings_commands", "app", "Show and change how mail leaves this system."),
        "admin": CommandEntry(
            "admin_commands", "admin_app", "Administrators (each has the e-mail the test e-mail goes to)."
        ),
        "token": CommandEntry("token_commands", "app", "API bearer tokens: scoped, expiring, revocable."),
        "oauth": CommandEntry(
            "oauth_commands", "app", "OAuth2 sign-in, Verify (token claims) and token health."
        ),
        "events": CommandEntry(
            "event_commands",
            "events_app",
            "The event catalog: list the types, preview their e-mails, recent events.",
        ),
        "outbox": CommandEntry(
            "event_commands", "outbox_app", "The outbox: messages queued, sent, waiting or given up."
        ),
        "cluster": CommandEntry(
            "cluster_commands",
            "app",
            "Several nodes on one PostgreSQL: list them and their problems, promote a backup, enable or "
            "disable a node's backup operations.",
        ),
        "db": CommandEntry("top_commands", "db_app", "Database schema."),
    }
)


class LazyCommandGroup(TyperGroup):
    """The root group: lists `COMMANDS` by their summaries, imports one only to run or show it."""

    # Typer's own click types (it vendors click): named loosely here, as help_style.py does.
    def list_commands(self, ctx: Any) -> list[str]:
        return [*self.commands, *(name for name in COMMANDS if name not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.commands[cmd_name] = COMMANDS[cmd_name].load(cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # As click lists commands, each shortened to the width left, from the summary alone.
        listed = {name: TyperCommand(name, help=entry.summary) for name, entry in COMMANDS.items()}
        limit = formatter.width - 6 - max(len(name) for name in listed)
        with formatter.section("Commands"):
            formatter.write_dl([(name, listed[name].get_short_help_str(limit)) for name in listed])

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        # Typer suggests among the commands built so far (none, here): suggest among all of them.
        unknown = args[0] if args and args[0] not in COMMANDS and not args[0].startswith("-") else ""
        matches = get_close_matches(unknown, list(COMMANDS)) if unknown else []
        if matches:
            ctx.fail(f"No such command {unknown!r}. Did you mean {', '.join(map(repr, matches))}?")
        return super().resolve_command(ctx, args)
