"""Running one CLI command against the services: config from the environment, errors as sentences."""

from __future__ import annotations

import asyncio
import getpass
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer
from rich.text import Text

from alertmail.config import AppConfig
from alertmail.errors import AlertmailError, FieldError, SettingsValidationError
from alertmail.interfaces.cli.terminal import terminal_safe
from alertmail.interfaces.cli.terminal_console import TerminalConsole

if TYPE_CHECKING:
    from alertmail.composition import Container

T = TypeVar("T")

# No markup: what we print includes server replies and categories in brackets, which Rich would
# otherwise take for style tags and swallow. Control characters in them are escaped.
console = TerminalConsole(highlight=False, soft_wrap=True, markup=False)
errors = TerminalConsole(stderr=True, highlight=False, soft_wrap=True, markup=False)


def run(work: Callable[[Container], Awaitable[T]], *, flags: Mapping[str, str] | None = None) -> T:
    """Open the services, run `work`, close them; an alertmail error becomes a message and exit 1.
    `flags`: the command-line option to name for an error about a field (`to` -> `--to ADDRESS`)."""

    async def main() -> T:
        # Here, not at the top: `alertmail --help` and typos need none of what the services import.
        from alertmail.composition import open_container

        async with open_container(AppConfig()) as container:
            return await work(container)

    try:
        return asyncio.run(main())
    except AlertmailError as exc:
        fail_with(exc, flags=flags)


def fail_with(problem: AlertmailError, *, flags: Mapping[str, str] | None = None) -> NoReturn:
    """Print `problem` (each field's for refused input, named by `flags`'s option) and exit 1."""
    if isinstance(problem, SettingsValidationError):
        fail_fields([FieldError((flags or {}).get(e.field, e.field), e.message) for e in problem.errors])
    fail(str(problem))


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


_AGE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """`--since`: an ISO date or time (UTC unless it says otherwise) or an age: 30m, 1h, 2d, 1w."""
    age = _AGE.match(text.strip().lower())
    if age:
        return (now or datetime.now(UTC)) - timedelta(**{_UNIT[age.group(2)]: int(age.group(1))})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(
            f"--since: {text!r} is neither an ISO date or time (2026-12-04, 2026-12-04T08:00) "
            "nor an age (1h, 2d)"
        )
    return when if when.tzinfo else when.replace(tzinfo=UTC)
