"""`alertmail`: configure outbound mail, prove it with a test e-mail, read why mail failed."""

from __future__ import annotations

from typing import Annotated

import typer

import alertmail
from alertmail.interfaces.cli.command_index import LazyCommandGroup
from alertmail.interfaces.cli.help_style import plain_help

# The commands are listed by command_index.py and imported when one runs: `alertmail --help`
# loads neither the services nor what they use.
app = typer.Typer(
    cls=LazyCommandGroup,
    help=__doc__,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"alertmail {alertmail.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Environment: ALERTMAIL_DATA_DIR (default ./alertmail-data), ALERTMAIL_DATABASE_URL (default
    SQLite in the data dir), ALERTMAIL_PUBLIC_URL, ALERTMAIL_SECRET_KEY_FILE, ALERTMAIL_SENDMAIL_PATH,
    ALERTMAIL_TRUSTED_PROXIES (reverse proxies whose X-Forwarded-For/-Proto count; default none)."""


def main() -> None:
    try:
        plain_help(typer.main.get_command(app))(prog_name="alertmail")
    except KeyboardInterrupt:
        from alertmail.interfaces.cli.runtime import fail

        fail("interrupted")
