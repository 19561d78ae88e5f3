"""The commands of no group module: `test-email`, `logs`, `sendmail` (through Typer) and `db upgrade`.

Imported only when one of them runs or shows its help (see command_index.py).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Annotated

import typer

from alertmail.domain.records import MailLogEntry
from alertmail.interfaces.cli import sendmail_command
from alertmail.interfaces.cli.runtime import console, parse_since, run
from alertmail.interfaces.cli.settings_commands import parse_assignments
from alertmail.interfaces.cli.test_email_output import print_test_result

__all__ = ["db_app", "logs", "sendmail", "test_email"]


def test_email(
    to: Annotated[
        str | None, typer.Option(metavar="ADDRESS", help="Send here instead of the administrator's e-mail.")
    ] = None,
    admin: Annotated[
        str | None, typer.Option(metavar="USERNAME", help="The administrator whose e-mail receives it.")
    ] = None,
    with_values: Annotated[
        list[str] | None,
        typer.Option(
            "--with",
            metavar="FIELD=VALUE",
            help="Test with this value instead of the saved one, without saving it (repeatable; "
            "FIELD=- reads a secret from standard input).",
        ),
    ] = None,
) -> None:
    """Send a test e-mail with the saved settings, or with some values changed by --with (nothing is
    saved). Exit 0 when it was accepted, 1 when it failed."""
    changes = parse_assignments(with_values or [], flag="--with")
    result = run(
        lambda c: c.test_email.send_unsaved(changes, administrator=admin, to=to),
        flags={"to": "--to ADDRESS or --admin USERNAME"},
    )
    print_test_result(result)
    if not result.sent:
        raise typer.Exit(1)


def logs(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    limit: Annotated[int, typer.Option(metavar="N", help="At most this many entries, newest first.")] = 50,
    category: Annotated[
        str | None, typer.Option(metavar="CATEGORY", help="Only this category, e.g. smtp_auth.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="WHEN",
            help="Only entries at or after this time: an ISO date or time (2026-12-04, "
            "2026-12-04T08:00, UTC unless it says) or an age such as 30m, 1h, 2d, 1w.",
        ),
    ] = None,
) -> None:
    """Mail Server Logs: every failed send, classified, with the settings in force at the time."""
    after = parse_since(since) if since else None
    entries = run(lambda c: c.mail_logs.list(limit=limit, category=category, since=after))
    for entry in entries:
        if as_json:
            sys.stdout.write(json.dumps(_entry_json(entry)) + "\n")
            continue
        console.print(
            f"{entry.registered_at:%Y-%m-%d %H:%M:%S} {entry.auth_type:<6} {entry.status} "
            f"[{entry.category}] {entry.message}"
        )
        console.print(f"    fix: {entry.hint}")
        console.print(f"    settings: {json.dumps(entry.settings_snapshot)}")
    if not entries and not as_json:
        console.print("No mail server errors recorded.")


def _entry_json(entry: MailLogEntry) -> dict[str, object]:
    data = asdict(entry)
    data["registered_at"] = entry.registered_at.isoformat()
    return data


def sendmail(ctx: typer.Context) -> None:
    """Queue the message on stdin, sendmail-style: [-t] [-i] [-f FROM] [RECIPIENT ...] (see --help)."""
    status = sendmail_command.run(ctx.args, stdin=sys.stdin.buffer, stdout=sys.stdout, stderr=sys.stderr)
    if status:
        raise typer.Exit(status)


db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date (every command also does this on start)."""
    run(lambda c: c.settings.current())
    console.print("database schema is current")
