"""`alertmail`: configure outbound mail, prove it with a test e-mail, read why mail failed."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Annotated

import typer

import alertmail
from alertmail.domain.records import MailLogEntry
from alertmail.interfaces.cli import (
    admin_commands,
    cluster_commands,
    event_commands,
    oauth_commands,
    sendmail_command,
    serve_command,
    settings_commands,
    token_commands,
)
from alertmail.interfaces.cli.help_style import plain_help
from alertmail.interfaces.cli.runtime import console, fail, parse_since, run
from alertmail.interfaces.cli.settings_commands import parse_assignments
from alertmail.interfaces.cli.test_email_output import print_test_result

app = typer.Typer(
    help=__doc__,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(settings_commands.app, name="settings")
app.add_typer(admin_commands.admin_app, name="admin")
app.add_typer(token_commands.app, name="token")
app.add_typer(oauth_commands.app, name="oauth")
app.add_typer(event_commands.events_app, name="events")
app.add_typer(event_commands.outbox_app, name="outbox")
app.add_typer(cluster_commands.app, name="cluster")
app.command("notify")(event_commands.notify)
app.command("worker")(event_commands.worker)
app.command("serve")(serve_command.serve)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _version(value: bool) -> None:
    if value:
        console.print(f"alertmail {alertmail.__version__}")
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


@app.command("test-email")
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


@app.command("logs")
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


@app.command(
    "sendmail",
    # sendmail's flags (-oi, -fFROM, -t ...) are not Typer's: they go through untouched, --help too.
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def sendmail(ctx: typer.Context) -> None:
    """Queue the message on stdin, sendmail-style: [-t] [-i] [-f FROM] [RECIPIENT ...] (see --help)."""
    status = sendmail_command.run(ctx.args, stdin=sys.stdin.buffer, stdout=sys.stdout, stderr=sys.stderr)
    if status:
        raise typer.Exit(status)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date (every command also does this on start)."""
    run(lambda c: c.settings.current())
    console.print("database schema is current")


def main() -> None:
    try:
        plain_help(typer.main.get_command(app))(prog_name="alertmail")
    except KeyboardInterrupt:
        fail("interrupted")
