"""Running one CLI command against the services: config from the environment, errors as sentences."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from alertmail.config import AppConfig
from alertmail.errors import AlertmailError, FieldError, SettingsValidationError

if TYPE_CHECKING:
    from alertmail.composition import Container

T = TypeVar("T")

# No markup: what we print includes server replies and categories in brackets, which Rich would
# otherwise take for style tags and swallow.
console = Console(highlight=False, soft_wrap=True, markup=False)
errors = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def run(work: Callable[[Container], Awaitable[T]]) -> T:
    """Open the services, run `work`, close them; an alertmail error becomes a message and exit 1."""

    async def main() -> T:
        # Here, not at the top: `alertmail --help` and typos need none of what the services import.
        from alertmail.composition import open_container

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
        errors.print(Text.assemble(("error:", "red"), f" {problem.field}: {problem.message}"))
    raise typer.Exit(1)


def fail(message: str) -> NoReturn:
    errors.print(Text.assemble(("error:", "red"), f" {message}"))
    raise typer.Exit(1)


def cli_actor() -> str:
    """Who the audit log names for a change made from the shell."""
    return f"cli:{getpass.getuser()}"
