"""`alertmail settings show | set | import | export`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from alertmail.domain import messages
from alertmail.domain.settings import FIELD_NAMES, SECRET_FIELDS, public_view
from alertmail.errors import FieldError
from alertmail.interfaces.cli.runtime import cli_actor, console, fail, fail_fields, run
from alertmail.interfaces.cli.settings_fields import fields_epilog
from alertmail.interfaces.cli.test_email_output import print_test_result
from alertmail.services.settings_service import SaveResult

app = typer.Typer(help="Show and change how mail leaves this system.", no_args_is_help=True)

_NULLABLE = {"oauth_provider"}


@app.command("show")
def show(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show the mail settings in force. Secrets appear only as set / not set."""
    stored = run(lambda c: c.settings.current())
    view = public_view(stored.settings)
    if as_json:
        console.print_json(json.dumps({"version": stored.version, "settings": view}))
        return
    console.print(
        f"version {stored.version}" + (f", saved by {stored.updated_by}" if stored.updated_by else "")
    )
    for name, value in view.items():
        shown = " ".join(value) if isinstance(value, list) else value
        console.print(f"  {name} = {shown}")


@app.command("set", epilog=fields_epilog())
def set_fields(
    assignments: Annotated[
        list[str],
        typer.Argument(
            metavar="FIELD=VALUE",
            help="The fields to change (listed below); a secret as FIELD=- is read from standard input.",
        ),
    ],
    test: Annotated[bool, typer.Option("--test", help="Send a test e-mail after saving.")] = False,
    admin: Annotated[
        str | None, typer.Option(metavar="USERNAME", help="Administrator whose e-mail receives the test.")
    ] = None,
) -> None:
    """Change some fields, e.g. `alertmail settings set hostname=smtp.example.com port=587`."""
    changes = parse_assignments(assignments)
    result = run(
        lambda c: c.settings.save(
            changes, actor=cli_actor(), test_recipient_admin=admin, send_test=test or None
        )
    )
    _report_save(result)


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="A JSON object of fields, as `settings export` writes it.")],
    admin: Annotated[
        str | None, typer.Option(help="Administrator whose e-mail receives a test on save.")
    ] = None,
) -> None:
    """Replace all the settings with those of a JSON file. Secrets missing from it are kept."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"cannot read {file}: {exc}")
    if not isinstance(data, dict):
        fail(f"{file} must hold a JSON object of fields")
    data = {
        k: v for k, v in data.items() if not (k.endswith("_set") and k.removesuffix("_set") in SECRET_FIELDS)
    }
    result = run(lambda c: c.settings.save(data, actor=cli_actor(), replace=True, test_recipient_admin=admin))
    _report_save(result)


@app.command("export")
def export() -> None:
    """Print the settings as JSON, without secrets, ready for `settings import`."""
    stored = run(lambda c: c.settings.current())
    console.print_json(json.dumps(public_view(stored.settings)))


def parse_assignments(assignments: list[str], *, flag: str = "") -> dict[str, Any]:
    """FIELD=VALUE pairs as a change; `flag` names the option they came with, for its errors."""
    changes: dict[str, Any] = {}
    problems: list[FieldError] = []
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep:
            problems.append(FieldError(flag or item, f"{item!r} must be written FIELD=VALUE"))
        elif name not in FIELD_NAMES:
            which = f"{flag} {name}" if flag else name
            problems.append(FieldError(which, "is not a mail setting: see `alertmail settings set --help`"))
        elif name in SECRET_FIELDS and value == "-":
            changes[name] = _read_secret(name)
        else:
            changes[name] = None if (name in _NULLABLE and value == "") else value
    if problems:
        fail_fields(problems)
    return changes


def _read_secret(name: str) -> str:
    if sys.stdin.isatty():
        return str(typer.prompt(name, hide_input=True))
    return sys.stdin.readline().rstrip("\r\n")


def _report_save(result: SaveResult) -> None:
    console.print(messages.CHANGES_SAVED)
    changed = ", ".join(result.changed) or "nothing changed"
    console.print(f"version {result.stored.version}: {changed}")
    if result.test_email_problem:
        fail(result.test_email_problem)
    if result.test_email is not None:
        print_test_result(result.test_email)
        if not result.test_email.sent:
            raise typer.Exit(1)
