"""The `alertmail` command as an administrator runs it: a separate process on its own data dir."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from alertmail.domain import messages
from tests.support.app import Cli

RELAY = [
    "from_address=alerts@example.com",
    "hostname=smtp.example.com",
    "port=587",
    "encryption=starttls",
    "auth_type=basic",
    "username=alerts@example.com",
]
SECRET = "cli-relay-Secret-42"


def test_help_lists_the_contract_commands(cli: Cli) -> None:
    out = cli("--help").stdout
    for command in ("serve", "admin", "settings", "test-email", "logs", "token", "db"):
        assert command in out


def test_admin_create_and_token(cli: Cli) -> None:
    created = cli(
        "admin", "create", "root", "--email", "root@example.com", "--password-stdin", stdin="long-enough-pw\n"
    )
    assert created.returncode == 0, created.stderr
    assert "administrator root created" in created.stdout
    again = cli("admin", "create", "root", "--password-stdin", stdin="long-enough-pw\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    token = cli("token", "create", "monitoring")
    assert token.returncode == 0 and token.stdout.startswith("am_")


def test_data_dir_is_private(cli: Cli) -> None:
    assert cli("logs").returncode == 0
    assert cli.data_dir.stat().st_mode & 0o777 == 0o700


def test_admin_create_refuses_a_short_password(cli: Cli) -> None:
    result = cli("admin", "create", "root", "--password-stdin", stdin="short\n")
    assert result.returncode == 1
    assert "password: must be at least 8 characters" in result.stderr


@pytest.mark.parametrize("password", ["aaaaaaaa", "Password1", "QwertyUiop"])
def test_admin_create_refuses_a_common_password_and_creates_nothing(cli: Cli, password: str) -> None:
    result = cli("admin", "create", "root", "--password-stdin", stdin=password + "\n")
    assert result.returncode == 1
    assert "password: is one of the commonly used passwords" in result.stderr
    assert "root" not in cli("admin", "list").stdout


def test_settings_set_show_export_import(cli: Cli, tmp_path: Path) -> None:
    saved = cli("settings", "set", *RELAY, "password=-", stdin=SECRET + "\n")
    assert saved.returncode == 0, saved.stderr
    assert messages.CHANGES_SAVED in saved.stdout
    shown = json.loads(cli("settings", "show", "--json").stdout)
    assert shown["settings"]["hostname"] == "smtp.example.com"
    assert shown["settings"]["password_set"] is True
    exported = cli("settings", "export").stdout
    assert SECRET not in exported + saved.stdout + saved.stderr
    data = json.loads(exported)
    data["port"] = 2525
    file = tmp_path / "settings.json"
    file.write_text(json.dumps(data))
    imported = cli("settings", "import", str(file))
    assert imported.returncode == 0, imported.stderr
    after = json.loads(cli("settings", "show", "--json").stdout)["settings"]
    assert after["port"] == 2525 and after["password_set"] is True


def test_bad_setting_names_the_field_and_changes_nothing(cli: Cli) -> None:
    cli("settings", "set", *RELAY, "password=-", stdin=SECRET + "\n")
    before = cli("settings", "show", "--json").stdout
    for bad, field in (("port=70000", "port"), ("hostname=bad host", "hostname"), ("colour=blue", "colour")):
        result = cli("settings", "set", "from_address=new@example.com", bad)
        assert result.returncode == 1
        assert f"error: {field}:" in result.stderr
        assert "Traceback" not in result.stderr
    assert cli("settings", "show", "--json").stdout == before


def test_test_email_before_configuration_says_what_to_do(cli: Cli) -> None:
    result = cli("test-email", "--to", "me@example.com")
    assert result.returncode == 1
    assert "have not been saved yet" in result.stderr


def test_test_email_without_administrator_email(cli: Cli) -> None:
    cli("settings", "set", *RELAY, "password=-", stdin=SECRET + "\n")
    cli("admin", "create", "root", "--password-stdin", stdin="long-enough-pw\n")
    result = cli("test-email")
    assert result.returncode == 1
    assert messages.NO_ADMINISTRATOR_EMAIL in result.stderr


def test_logs_when_empty(cli: Cli) -> None:
    result = cli("logs")
    assert result.returncode == 0 and "No mail server errors recorded." in result.stdout
    assert cli("logs", "--category", "bogus").returncode == 1


def test_events_list_pages_with_the_cursor_it_prints(cli: Cli) -> None:
    for n in range(3):
        assert cli("notify", "test", "--detail", f"n={n}", "--dedupe-key", f"k{n}").returncode == 0
    first = cli("events", "list", "--limit", "2", "--json")
    assert first.returncode == 0
    older = re.fullmatch(r"Older events: --before (\S+)\n", first.stderr)
    assert older, first.stderr
    second = cli("events", "list", "--limit", "2", "--json", "--before", older.group(1))
    assert (second.returncode, second.stderr) == (0, "")  # the last page: no cursor printed
    shown = [json.loads(line)["details"]["n"] for line in (first.stdout + second.stdout).splitlines()]
    assert shown == ["2", "1", "0"]
    bad = cli("events", "list", "--before", "yesterday")
    assert bad.returncode == 1 and "error: --before: is not a page cursor" in bad.stderr
