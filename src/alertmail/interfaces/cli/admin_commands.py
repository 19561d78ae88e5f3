"""`alertmail admin ...`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from alertmail.interfaces.cli.runtime import console, run

if TYPE_CHECKING:
    pass

admin_app = typer.Typer(
    help="Administrators (each has the e-mail the test e-mail goes to).", no_args_is_help=True
)


@admin_app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="The administrator's login name.")],
    email: Annotated[str | None, typer.Option(help="Where this administrator's test e-mails go.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an administrator. Asks for the password unless --password-stdin is given."""
    password = _read_password(password_stdin)
    admin = run(lambda c: c.administrators.create(username, email=email, password=password))
    console.print(f"administrator {admin.username} created" + (f" ({admin.email})" if admin.email else ""))


@admin_app.command("list")
def list_admins() -> None:
    """List the administrators and their e-mail addresses."""
    for admin in run(lambda c: c.administrators.list()):
        console.print(f"{admin.username}\t{admin.email or '(no e-mail)'}")


@admin_app.command("set-email")
def set_email(
    username: Annotated[str, typer.Argument()],
    email: Annotated[str, typer.Argument(help="The new address; an empty string removes it.")],
) -> None:
    """Edit info: set the e-mail address of an administrator."""
    run(lambda c: c.administrators.set_email(username, email or None))
    console.print(f"e-mail of {username} set to {email or '(none)'}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
