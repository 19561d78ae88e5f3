"""The command line reads like git's or pip's (issue #17, item 10) and tests unsaved values (item 3)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from typer import Exit

from alertmail.domain import messages
from alertmail.domain.settings import FIELD_NAMES
from alertmail.interfaces.cli.runtime import parse_since
from tests.support.app import Cli
from tests.support.smtp import SmtpServerFactory

PLAIN_RELAY = ["from_address=alerts@appliance.local", "hostname=127.0.0.1", "encryption=none"]


@pytest.mark.parametrize(
    "command",
    [("logs",), ("settings", "set"), ("settings", "show"), ("test-email",), ("admin", "create"), ("outbox",)],
)
def test_help_has_flags_without_types_and_metavars_in_capitals(cli: Cli, command: tuple[str, ...]) -> None:
    out = cli(*command, "--help").stdout
    assert "<bool>" not in out and "<str>" not in out and "<int>" not in out
    assert "{" not in out.splitlines()[0], "usage lines name arguments in capitals, not {braces}"
    assert re.search(r"^\s+--help\s+Show this message", out, re.MULTILINE)


def test_option_metavars_say_what_to_give(cli: Cli) -> None:
    logs = " ".join(cli("logs", "--help").stdout.split())  # help wraps at the terminal's width
    assert "--limit N" in logs and "--since WHEN" in logs and "--json " in logs
    assert "1h" in logs and "2026-12-04" in logs
    email = " ".join(cli("test-email", "--help").stdout.split())
    assert "--to ADDRESS" in email and "--with FIELD=VALUE" in email and "without saving" in email


def test_settings_set_help_lists_every_field_with_its_meaning(cli: Cli) -> None:
    out = cli("settings", "set", "--help").stdout
    assert out.startswith("Usage: alertmail settings set [OPTIONS] FIELD=VALUE...")
    for name in FIELD_NAMES:
        line = re.search(rf"^\s+{name}\s+(\S.*)$", out, re.MULTILINE)
        assert line, f"{name} is not listed with a meaning"


def test_test_email_with_several_administrators_names_the_flags(cli: Cli) -> None:
    assert cli("settings", "set", *PLAIN_RELAY, "port=2525").returncode == 0
    for name in ("one", "two"):
        made = cli(
            "admin",
            "create",
            name,
            "--email",
            f"{name}@corp.local",
            "--password-stdin",
            stdin="pw-long-enough\n",
        )
        assert made.returncode == 0, made.stderr
    result = cli("test-email")
    assert result.returncode == 1
    assert "--to ADDRESS or --admin USERNAME" in result.stderr
    assert "2 administrators" in result.stderr


def test_an_unknown_with_field_names_the_flag(cli: Cli) -> None:
    result = cli("test-email", "--to", "ops@corp.local", "--with", "hostnme=relay")
    assert result.returncode == 1 and "--with hostnme" in result.stderr


async def test_test_email_with_tries_unsaved_values(cli: Cli, smtp_server_factory: SmtpServerFactory) -> None:
    sink = await smtp_server_factory()
    assert (await cli.run("settings", "set", *PLAIN_RELAY, "port=9")).returncode == 0
    before = json.loads((await cli.run("settings", "show", "--json")).stdout)

    sent = await cli.run("test-email", "--to", "ops@corp.internal", "--with", f"port={sink.port}")
    assert sent.returncode == 0, sent.stderr
    assert messages.test_email_sent("ops@corp.internal") in sent.stdout
    assert [message.rcpt_tos for message in sink.messages] == [("ops@corp.internal",)]
    assert json.loads((await cli.run("settings", "show", "--json")).stdout) == before  # nothing saved

    bad = await cli.run("test-email", "--to", "ops@corp.internal", "--with", "port=0", "--with", "hostname=")
    assert bad.returncode == 1
    assert "port:" in bad.stderr and "hostname:" in bad.stderr  # every error at once


def test_since_takes_iso_dates_and_ages() -> None:
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert parse_since("1h", now=now) == now - timedelta(hours=1)
    assert parse_since("2d", now=now) == now - timedelta(days=2)
    assert parse_since("30m", now=now) == now - timedelta(minutes=30)
    assert parse_since("2026-12-04", now=now) == datetime(2026, 12, 4, tzinfo=UTC)
    assert parse_since("2026-12-04T08:00+01:00", now=now) == datetime(2026, 12, 4, 7, tzinfo=UTC)
    with pytest.raises(Exit):
        parse_since("yesterday", now=now)


def test_logs_since_refuses_what_it_cannot_read_naming_the_flag(cli: Cli) -> None:
    assert cli("logs", "--since", "2d").returncode == 0
    refused = cli("logs", "--since", "last week")
    assert refused.returncode == 1 and "--since" in refused.stderr and "1h" in refused.stderr
