"""Running one CLI command against the services: config from the environment, errors as sentences."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import typer
from rich.text import Text

from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from alertmail.errors import AlertmailError, FieldError, SettingsValidationError
from alertmail.interfaces.cli.terminal import TerminalConsole, terminal_safe

T = TypeVar("T")

# No markup: what we print includes server replies and categories in brackets, which Rich would
# otherwise take for style tags and swallow. Control characters in them are escaped.
console = TerminalConsole(highlight=False, soft_wrap=True, markup=False)
errors = TerminalConsole(stderr=True, highlight=False, soft_wrap=True, markup=False)


def run(work: Callable[[Container], Awaitable[T]]) -> T:
    """Open the services, run `work`, close them; an alertmail error becomes a message and exit 1."""

    async def main() -> T:
        async with open_container(AppConfig()) as container:
            return await work(container)

    try:
        return asyncio.run(main())
    except SettingsValidationError as exc:
        fail_fields(exc.errors)
    except AlertmailError as exc:
        fail(str(exc))


def fail_fields(problems: list[FieldError]) -> NoReturn:
    for problem in problems:
        errors.print(Text.assemble(("error:", "red"), terminal_safe(f" {problem.field}: {problem.message}")))
    raise typer.Exit(1)


def fail(message: str) -> NoReturn:
    errors.print(Text.assemble(("error:", "red"), terminal_safe(f" {message}")))
    raise typer.Exit(1)


def cli_actor() -> str:
    """Who the audit log names for a change made from the shell."""
    return f"cli:{getpass.getuser()}"
