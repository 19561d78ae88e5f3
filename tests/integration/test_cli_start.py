"""Commands start fast: each imports what it needs, and a current database costs one read.

`alertmail sendmail` and `alertmail notify` run on every alert a host raises; they must not load
the web stack (FastAPI, Starlette, uvicorn, the UI), Alembic, Authlib, nor the PostgreSQL driver on
SQLite. Checked on the real command, in a subprocess, from `python -X importtime`'s list of every
module the process imported.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event as sa_event

from alertmail.adapters.storage.database import Database, head_revision
from alertmail.adapters.storage.schema_version import migration_heads
from alertmail.composition import open_container
from alertmail.config import AppConfig
from tests.support.delivery import alertmail_env, free_port

FORBIDDEN = ("fastapi", "starlette", "uvicorn", "alembic", "authlib", "psycopg", "alertmail.interfaces.web")
MESSAGE = b"From: app@example.com\nTo: ops@example.com\nSubject: disk full\n\n/var is 98% full\n"


def imported_modules(
    args: list[str], data_dir: Path, stdin: bytes = b"", *, status: int = 0
) -> tuple[set[str], str]:
    """Every module `alertmail ARGS` imported, and what it printed; it must exit with `status`."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "alertmail", *args],
        input=stdin,
        capture_output=True,
        env=alertmail_env(data_dir),
        timeout=60,
        check=False,
    )
    stderr = done.stderr.decode()
    modules = {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}
    other = "\n".join(line for line in stderr.splitlines() if not line.startswith("import time:"))
    assert done.returncode == status, f"{args}: {done.stdout.decode()} {other}"
    return modules, done.stdout.decode() + other


def loaded(modules: set[str], prefix: str) -> bool:
    return any(m == prefix or m.startswith(prefix + ".") for m in modules)


@pytest.fixture
async def current_data_dir(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    async with open_container(AppConfig(data_dir=data_dir)):
        pass  # migrated to head
    return data_dir


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["sendmail", "-t", "-i"], MESSAGE),
        (["notify", "test", "--detail", "note=from a test"], b""),
        (["--help"], b""),
    ],
    ids=["sendmail", "notify", "help"],
)
def test_commands_import_neither_the_web_stack_nor_alembic_nor_authlib(
    current_data_dir: Path, args: list[str], stdin: bytes
) -> None:
    modules, _ = imported_modules(args, current_data_dir, stdin)
    assert "alertmail" in modules  # the list is real
    assert [name for name in FORBIDDEN if loaded(modules, name)] == []


# What queueing one message does not need: the command-line framework, and the services of
# `serve` (events, templates, delivery, OAuth, metrics, the cluster).
NOT_FOR_SENDMAIL = (
    "typer",
    "rich",
    "jinja2",
    "httpx",
    "prometheus_client",
    "aiosmtplib",
    "alertmail.composition",
    "alertmail.services.notifications",
    "alertmail.services.delivery",
    "alertmail.services.cluster",
)


# The root's help lists every command from command_index.py: it loads none of them.
NOT_FOR_HELP = (
    "sqlalchemy",
    "pydantic",
    "pydantic_settings",
    "fastapi",
    "alembic",
    "authlib",
    "alertmail.composition",
    "alertmail.config",
    "alertmail.services",
    "alertmail.interfaces.cli.settings_commands",
)


@pytest.mark.parametrize(("args", "status"), [(["--help"], 0), ([], 2)], ids=["--help", "no arguments"])
def test_the_root_help_imports_no_command(tmp_path: Path, args: list[str], status: int) -> None:
    modules, output = imported_modules(args, tmp_path / "data", status=status)
    assert "notify      Raise an event" in output  # it listed the commands
    assert loaded(modules, "typer")  # the list is real
    assert [name for name in NOT_FOR_HELP if loaded(modules, name)] == []


def test_sendmail_builds_only_what_queueing_a_message_needs(current_data_dir: Path) -> None:
    modules, _ = imported_modules(["sendmail", "-t", "-i"], current_data_dir, MESSAGE)
    assert loaded(modules, "alertmail.services.local_submission")  # it did queue
    assert [name for name in NOT_FOR_SENDMAIL if loaded(modules, name)] == []


# `serve` needs the services and the web stack, not the other commands' modules.
OTHER_COMMANDS = tuple(
    f"alertmail.interfaces.cli.{name}"
    for name in (
        "settings_commands",
        "admin_commands",
        "token_commands",
        "oauth_commands",
        "cluster_commands",
    )
)


def serve_imports(data_dir: Path, tmp_path: Path) -> set[str]:
    """Every module `alertmail serve` imported by the time it answered its first /healthz."""
    port = free_port()
    with (tmp_path / "serve.err").open("wb") as err:
        serve = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "alertmail", "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=alertmail_env(data_dir),
        )
        try:
            wait_for_health(f"http://127.0.0.1:{port}/healthz", serve)
        finally:
            serve.terminate()
            serve.wait(timeout=30)
    stderr = (tmp_path / "serve.err").read_text()
    return {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_serve_imports_what_it_serves_and_not_the_other_commands(
    current_data_dir: Path, tmp_path: Path
) -> None:
    modules = serve_imports(current_data_dir, tmp_path)
    assert loaded(modules, "alertmail.interfaces.api")  # it served
    assert [name for name in OTHER_COMMANDS if loaded(modules, name)] == []


# What `serve` needs only for a feature this data directory does not use: Alembic (the schema is
# current), the PostgreSQL driver (SQLite), cryptography (no secret stored: a relay without a
# password), OAuth2 (Authlib, and httpx, which only the OAuth2 and mail-API clients use), the
# SMTP listener (ALERTMAIL_SMTP_LISTENER_PORT unset); SQLAlchemy's PostgreSQL dialect on SQLite;
# WebSockets (nothing served speaks them); Typer and Rich, for options given plainly (uvicorn loads
# Click for its own command line).
NOT_CONFIGURED = (
    "alembic",
    "psycopg",
    "sqlalchemy.dialects.postgresql",
    "websockets",
    "typer",
    "rich",
    "cryptography",
    "authlib",
    "httpx",
    "aiosmtpd",
    "alertmail.interfaces.smtp_listener",
)


def test_serve_loads_nothing_for_features_not_configured(current_data_dir: Path, tmp_path: Path) -> None:
    modules = serve_imports(current_data_dir, tmp_path)
    assert loaded(modules, "sqlalchemy") and loaded(modules, "fastapi")  # the list is real
    assert [name for name in NOT_CONFIGURED if loaded(modules, name)] == []


def wait_for_health(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        assert process.poll() is None, "serve exited"
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("serve did not answer /healthz")


def test_the_first_command_on_a_new_data_directory_migrates_it(tmp_path: Path) -> None:
    modules, output = imported_modules(["notify", "test"], tmp_path / "data")
    assert loaded(modules, "alembic")  # an upgrade was due: Alembic ran
    assert "recorded" in output


def test_the_heads_read_from_the_migration_files_are_alembics() -> None:
    assert migration_heads() == {head_revision()}


async def test_a_current_database_costs_one_read_to_check(sqlite_url: str) -> None:
    async with Database.from_url(sqlite_url) as database:
        await database.upgrade()
        statements: list[str] = []
        sa_event.listen(
            database.engine.sync_engine,
            "before_cursor_execute",
            lambda _c, _cur, statement, *_: statements.append(statement),
        )
        await database.upgrade()
    assert [s for s in statements if s != "BEGIN"] == ["SELECT version_num FROM alembic_version"]


def test_serve_without_typer_reports_an_error_as_every_command_does(current_data_dir: Path) -> None:
    """Plain options, so the Typer-less path: a bad key file is one line on stderr and exit 1."""
    (current_data_dir / "secret.key").write_text("not a key\n")
    done = subprocess.run(
        [sys.executable, "-m", "alertmail", "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=alertmail_env(current_data_dir),
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: the secret key is not a Fernet key")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "status", "said"),
    [
        (["--help"], 0, "Serve the web UI and the REST API on http://HOST:PORT"),
        (["--port", "abc"], 2, "Invalid value for '--port'"),
        (["--verbose"], 2, "No such option: --verbose"),
    ],
)
def test_serve_options_that_are_not_plain_are_answered_by_typer(
    current_data_dir: Path, args: list[str], status: int, said: str
) -> None:
    _, output = imported_modules(["serve", *args], current_data_dir, status=status)
    assert said in output
