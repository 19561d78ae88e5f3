"""No secret ever leaves in any form: not in the database, files, API answers, CLI output or logs.

Real parts only: aiosmtpd sinks on 127.0.0.1, the real SQLite database, the real API and the real
`alertmail` command; for Microsoft Graph and the Gmail API, their stand-ins on loopback. Each test
drives a successful test e-mail and a row of failures, changes the settings several times, then
searches every place a secret could end up for each secret in clear, base64 (standard and url-safe,
padded or not, at any alignment), AUTH PLAIN, AUTH LOGIN and hex.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alertmail.adapters.storage.transport_state_repository import SqlTransportStateRepository
from alertmail.config import AppConfig
from alertmail.domain.fallback import PrimaryFailure
from tests.support.api_settings import gmail_delegated, graph_app_only, strict_tokens
from tests.support.app import Api, Cli
from tests.support.leaks import (
    USERNAME,
    assert_nothing_leaked,
    assert_search_finds,
    data_dir_haystacks,
    log_haystacks,
    record_responses,
)
from tests.support.mail_api_fakes import MailApiFake
from tests.support.oauth_settings import browse, callback_path
from tests.support.provider_fakes import ProviderFake
from tests.support.smtp import CONTENT_REJECTED, SmtpServerFactory, SmtpSink

PASSWORD = "Leak-Canary-7f3a9e1"  # lengths not multiples of 3, so base64 of each one has padding
CLIENT_SECRET = "Leak-Client-Secret-5c2b80d"
CLI_PASSWORD = "Cli-Canary-Pw-84d1e6a0"
CLI_CLIENT_SECRET = "Cli-Client-Secret-3e9f7"
API_SECRET_FIELDS = {"password": PASSWORD, "client_secret": CLIENT_SECRET}
RECIPIENT = "ops@example.com"


# --- through the API ------------------------------------------------------------------------------


def relay(port: int, tls_ca_pem: str, **changes: Any) -> dict[str, Any]:
    return {
        "from_address": "alerts@example.com",
        "hostname": "127.0.0.1",
        "port": port,
        "encryption": "starttls",
        "auth_type": "basic",
        "username": USERNAME,
        "tls_trusted_ca": tls_ca_pem,
        "connect_timeout": 5,
        "admin_contacts": RECIPIENT,
        **changes,
    }


async def start_api_sinks(smtp_server_factory: SmtpServerFactory) -> dict[str, SmtpSink]:
    """The relay that accepts PASSWORD, and three that fail in their own way."""
    auth = {"tls": "starttls", "auth_required": True, "username": USERNAME}
    return {
        "good": await smtp_server_factory(**auth, password=PASSWORD),
        # AUTH LOGIN only: the password then travels on its own, base64-encoded.
        "wrong password": await smtp_server_factory(
            **auth, password="not-the-canary", auth_mechanisms=("LOGIN",)
        ),
        "no starttls": await smtp_server_factory(),
        "554 at data": await smtp_server_factory(**auth, password=PASSWORD, data_reply=CONTENT_REJECTED),
    }


async def save(client: httpx.AsyncClient, method: str, body: dict[str, Any], status: int = 200) -> Any:
    response = await client.request(method, "/api/v1/mail-settings", json=body)
    assert response.status_code == status, response.text
    return response.json()


async def send_test_email(client: httpx.AsyncClient, status: int) -> dict[str, Any]:
    response = await client.post("/api/v1/mail-settings/test-email", json={"to": RECIPIENT})
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def send_then_fail(
    client: httpx.AsyncClient, sinks: dict[str, SmtpSink], pem: str, refused: int
) -> int:
    """One test e-mail that arrives, then one per failure; returns the number of failures."""
    await save(client, "PATCH", relay(sinks["good"].port, pem, **API_SECRET_FIELDS))
    assert (await send_test_email(client, 200))["sent"] is True
    failures: list[tuple[dict[str, Any], str]] = [
        ({"port": sinks["wrong password"].port}, "smtp_auth"),
        ({"port": refused}, "connect_refused"),
        ({"port": sinks["no starttls"].port}, "tls_unavailable"),
        ({"port": sinks["good"].port, "tls_trusted_ca": ""}, "tls_handshake"),
        ({"port": sinks["554 at data"].port, "tls_trusted_ca": pem}, "smtp_policy"),
    ]
    for changes, category in failures:
        await save(client, "PATCH", changes)
        failed = await send_test_email(client, 502)
        assert failed["sent"] is False and failed["failure"]["category"] == category, failed
    return len(failures)


async def change_settings_repeatedly(client: httpx.AsyncClient, good: SmtpSink, pem: str) -> None:
    await save(client, "PATCH", {"port": good.port, "password": PASSWORD})  # the same password again
    await save(client, "PATCH", {"password": "", "client_secret": ""})  # empty: keep the stored ones
    await save(client, "PATCH", {"port": 70000, "password": PASSWORD}, status=422)
    await save(client, "PATCH", {"port": "x", "client_secret": CLIENT_SECRET}, status=422)
    replaced = await save(client, "PUT", relay(good.port, pem))  # without secrets: they are kept
    assert replaced["settings"]["settings"]["password_set"] is True
    with_test = relay(good.port, pem, **API_SECRET_FIELDS, send_test_on_save=True)
    assert (await save(client, "PUT", with_test))["test_email"]["sent"] is True


async def read_every_page(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """GET everything there is to read; returns the Mail Server Logs entries."""
    for path in ("/api/v1/mail-settings", "/openapi.json", "/docs", "/healthz"):
        assert (await client.get(path)).status_code == 200
    assert (await client.get("/api/v1/mail-server-logs", params={"category": "smtp_auth"})).status_code == 200
    logs = await client.get("/api/v1/mail-server-logs")
    entries: list[dict[str, Any]] = logs.json()["entries"]
    return entries


def assert_stored_encrypted(database: Path) -> None:
    """Non-vacuity: both secrets are in the database, as Fernet ciphertext."""
    with closing(sqlite3.connect(database)) as connection:
        row = connection.execute("SELECT password, client_secret FROM mail_settings").fetchone()
    assert row is not None and all(value.startswith("gAAAAA") for value in row), row


async def test_api_never_reveals_a_secret(
    api: Api,
    app_config: AppConfig,
    smtp_server_factory: SmtpServerFactory,
    tls_ca_pem: str,
    refused_port: int,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secrets = {"API password": PASSWORD, "API client secret": CLIENT_SECRET}
    assert_search_finds(secrets)
    caplog.set_level(logging.DEBUG)  # every logger, the product's and its libraries'
    for logger in ("aiosmtplib", "mail.log"):  # explicitly, should either ever be set higher
        caplog.set_level(logging.DEBUG, logger=logger)
    responses = record_responses(api.client)
    sinks = await start_api_sinks(smtp_server_factory)

    failures = await send_then_fail(api.client, sinks, tls_ca_pem, refused_port)
    await change_settings_repeatedly(api.client, sinks["good"], tls_ca_pem)
    entries = await read_every_page(api.client)

    assert len(sinks["good"].messages) == 2  # the test e-mail and the one sent on save
    assert [a.success for a in sinks["wrong password"].auth_attempts] == [False]  # it did travel
    assert len(entries) >= failures
    assert len(app_config.mail_log_path.read_text().splitlines()) >= failures
    assert_stored_encrypted(app_config.data_dir / "alertmail.db")
    assert any(r.name.startswith("mail.log") and r.levelno == logging.DEBUG for r in caplog.records)
    output = capsys.readouterr()
    haystacks = {
        **responses,
        **data_dir_haystacks(app_config.data_dir, app_config.resolved_secret_key_file),
        **log_haystacks(caplog),
        **{f"e-mail {n} received": m.content for n, m in enumerate(sinks["good"].messages)},
        "stdout": output.out,
        "stderr": output.err,
    }
    assert_nothing_leaked(haystacks, secrets)


# --- through the CLI ------------------------------------------------------------------------------


def cli_steps(rejecting: SmtpSink, tls_ca_pem: str, refused_port: int) -> list[tuple[list[str], str, int]]:
    """(arguments, standard input, exit code) of each `alertmail` command, in order."""
    relay_fields = [f"{name}={value}" for name, value in relay(refused_port, tls_ca_pem).items()]
    test_email = ["test-email", "--to", RECIPIENT]
    return [
        (["settings", "set", *relay_fields, "password=-", "client_secret=-"],
         f"{CLI_PASSWORD}\n{CLI_CLIENT_SECRET}\n", 0),
        (test_email, "", 1),  # refused
        (["settings", "set", f"port={rejecting.port}", "password=-"], CLI_PASSWORD + "\n", 0),
        (test_email, "", 1),  # 535
        (["settings", "set", "password=-"], "\n", 0),  # empty: keep the stored one
        (["settings", "show"], "", 0),
        (["settings", "show", "--json"], "", 0),
        (["settings", "export"], "", 0),
        (["logs"], "", 0),
        (["logs", "--json"], "", 0),
    ]  # fmt: skip


async def run_cli(cli: Cli, steps: list[tuple[list[str], str, int]]) -> dict[str, str]:
    """Run each step in a thread (the sinks live on this event loop); returns stdout + stderr."""
    outputs: dict[str, str] = {}
    for number, (arguments, stdin, exit_code) in enumerate(steps, start=1):
        result = await asyncio.to_thread(cli, *arguments, stdin=stdin)
        assert result.returncode == exit_code, (arguments[:2], result.stdout, result.stderr)
        outputs[f"output of command {number}: alertmail {' '.join(arguments[:2])}"] = (
            result.stdout + "\n" + result.stderr
        )
    return outputs


async def test_cli_never_reveals_a_secret(
    cli: Cli, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str, refused_port: int
) -> None:
    secrets = {"CLI password": CLI_PASSWORD, "CLI client secret": CLI_CLIENT_SECRET}
    assert_search_finds(secrets)
    rejecting = await smtp_server_factory(
        tls="starttls", auth_required=True, username=USERNAME, password="not-the-cli-canary"
    )

    outputs = await run_cli(cli, cli_steps(rejecting, tls_ca_pem, refused_port))

    # aiosmtplib tries each mechanism offered (PLAIN, then LOGIN): the password did travel.
    attempts = {(a.mechanism, a.username, a.success) for a in rejecting.auth_attempts}
    assert attempts == {("PLAIN", USERNAME, False), ("LOGIN", USERNAME, False)}
    logged = [json.loads(line) for line in list(outputs.values())[-1].splitlines() if line.strip()]
    assert sorted(entry["category"] for entry in logged) == ["connect_refused", "smtp_auth"]
    assert_stored_encrypted(cli.data_dir / "alertmail.db")
    key_file = AppConfig(data_dir=cli.data_dir).resolved_secret_key_file
    assert key_file.is_file()
    haystacks = {
        **outputs,
        **data_dir_haystacks(cli.data_dir, key_file),
    }
    assert_nothing_leaked(haystacks, secrets)


# --- the fallback transport's password ------------------------------------------------------------

FALLBACK_PASSWORD = "Fallback-Canary-2d9c41b"


def with_fallback(primary_port: int, fallback: SmtpSink, pem: str) -> dict[str, Any]:
    return relay(
        primary_port,
        pem,
        password=PASSWORD,
        fallback_email_type="smtp",
        fallback_hostname="127.0.0.1",
        fallback_port=fallback.port,
        fallback_encryption="starttls",
        fallback_auth_type="basic",
        fallback_username=USERNAME,
        fallback_password=FALLBACK_PASSWORD,
        fallback_after_minutes=1,
    )


async def wait_for(condition: Any, what: str) -> None:
    for _ in range(300):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_fallback_password_never_leaks_while_mail_goes_through_the_fallback(
    api: Api,
    app_config: AppConfig,
    smtp_server_factory: SmtpServerFactory,
    tls_ca_pem: str,
    refused_port: int,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secrets = {"fallback password": FALLBACK_PASSWORD, "API password": PASSWORD}
    caplog.set_level(logging.DEBUG)
    responses = record_responses(api.client)
    auth = {"tls": "starttls", "auth_required": True, "username": USERNAME, "auth_mechanisms": ("LOGIN",)}
    good = await smtp_server_factory(**auth, password=FALLBACK_PASSWORD)
    wrong = await smtp_server_factory(**auth, password="not-the-fallback-canary")
    body = await save(api.client, "PATCH", with_fallback(refused_port, good, tls_ca_pem))
    assert body["settings"]["settings"]["fallback_password_set"] is True
    assert "fallback_password" not in body["settings"]["settings"]
    state = SqlTransportStateRepository(api.container.database.sessionmaker)
    failure = PrimaryFailure("connect_refused", "Connection refused", "Start the relay.")
    for ago in (5, 0):  # failing for five minutes, until now
        await state.primary_failed(datetime.now(UTC) - timedelta(minutes=ago), failure, timedelta(minutes=10))

    assert (await api.client.post("/api/v1/events", json={"type": "test"})).status_code == 202
    await wait_for(lambda: _received(good, 2), "the notice and the event through the fallback")
    await save(api.client, "PATCH", {"fallback_port": wrong.port})
    assert (
        await api.client.post("/api/v1/events", json={"type": "test", "dedupe_key": "2"})
    ).status_code == 202
    await wait_for(lambda: _received_auth(wrong), "the fallback's refused login")
    assert (await api.client.get("/healthz")).json()["status"] == "degraded"
    assert (await api.client.get("/metrics")).status_code == 200
    assert (await api.client.get("/api/v1/messages")).status_code == 200
    entries = await read_every_page(api.client)
    assert any(e["settings_snapshot"].get("transport") == "fallback" for e in entries)

    with closing(sqlite3.connect(app_config.data_dir / "alertmail.db")) as connection:
        [stored] = connection.execute("SELECT fallback_password FROM mail_settings").fetchone()
    assert stored.startswith("gAAAAA")  # stored, as ciphertext
    output = capsys.readouterr()
    haystacks = {
        **responses,
        **data_dir_haystacks(app_config.data_dir, app_config.resolved_secret_key_file),
        **log_haystacks(caplog),
        **{f"e-mail {n} received": m.content for n, m in enumerate(good.messages)},
        "stdout": output.out,
        "stderr": output.err,
    }
    assert_nothing_leaked(haystacks, secrets)


async def _received(sink: SmtpSink, count: int) -> bool:
    return len(sink.messages) >= count


async def _received_auth(sink: SmtpSink) -> bool:
    return any(not attempt.success for attempt in sink.auth_attempts)


async def test_the_cli_never_shows_the_fallback_password(
    cli: Cli, tls_ca_pem: str, refused_port: int
) -> None:
    secrets = {"fallback password": FALLBACK_PASSWORD}
    fields = [f"{name}={value}" for name, value in relay(refused_port, tls_ca_pem).items()]
    fallback = ["fallback_email_type=smtp", "fallback_hostname=relay.example.net", "fallback_auth_type=basic"]
    fallback += [f"fallback_username={USERNAME}", "fallback_password=-"]
    steps = [
        (["settings", "set", *fields, "password=-", *fallback], f"{CLI_PASSWORD}\n{FALLBACK_PASSWORD}\n", 0),
        (["settings", "set", "fallback_password=-"], "\n", 0),  # empty: keep the stored one
        (["settings", "show"], "", 0),
        (["settings", "show", "--json"], "", 0),
        (["settings", "export"], "", 0),
        (["outbox"], "", 0),
    ]
    outputs = await run_cli(cli, steps)
    shown, _ = json.JSONDecoder().raw_decode(outputs["output of command 4: alertmail settings show"].lstrip())
    assert shown["settings"]["fallback_password_set"] is True and "fallback_password" not in shown["settings"]
    with closing(sqlite3.connect(cli.data_dir / "alertmail.db")) as connection:
        [stored] = connection.execute("SELECT fallback_password FROM mail_settings").fetchone()
    assert stored.startswith("gAAAAA")
    key_file = AppConfig(data_dir=cli.data_dir).resolved_secret_key_file
    haystacks = {**outputs, **data_dir_haystacks(cli.data_dir, key_file)}
    assert_nothing_leaked(haystacks, secrets)


# --- the mail APIs: Microsoft Graph and the Gmail API ---------------------------------------------

GRAPH_SECRET = "Graph-Client-Secret-9d4e2"
GMAIL_SECRET = "Gmail-Client-Secret-61a7f0"


async def send_through_the_apis(api: Api, provider: ProviderFake, mail: MailApiFake) -> None:
    """Graph app-only, then the Gmail API signed in: a test e-mail through each, then refusals."""
    provider.client_secret = GRAPH_SECRET
    await save(api.client, "PATCH", graph_app_only(provider, mail, client_secret=GRAPH_SECRET))
    assert (await send_test_email(api.client, 200))["sent"] is True
    for key in ("InvalidAuthenticationToken", "ErrorAccessDenied"):
        mail.fail_always(key)  # a refused token gets a fresh one first: both travel
        assert (await send_test_email(api.client, 502))["failure"]["provider_code"] == key
    mail.fail_always(None)
    provider.client_secret = GMAIL_SECRET
    await save(api.client, "PATCH", gmail_delegated(provider, mail, client_secret=GMAIL_SECRET))
    authorized = (await api.client.post("/api/v1/oauth/authorize")).json()
    assert (
        await api.client.get(callback_path(await browse(authorized["authorization_url"])))
    ).status_code == 200
    assert (await send_test_email(api.client, 200))["sent"] is True
    mail.fail_always("insufficientPermissions")
    assert (await send_test_email(api.client, 502))["failure"]["category"] == "gmail_api"


async def test_the_mail_apis_never_reveal_a_secret_or_a_token(
    api: Api,
    app_config: AppConfig,
    provider_fake: ProviderFake,
    mail_api_fake: MailApiFake,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    strict_tokens(provider_fake, mail_api_fake)
    responses = record_responses(api.client)

    await send_through_the_apis(api, provider_fake, mail_api_fake)
    entries = await read_every_page(api.client)

    assert len(mail_api_fake.received) == 2 and len(entries) >= 3
    tokens = {
        f"access token {n}": token for n, token in enumerate(sorted(provider_fake.issued_access_tokens))
    }
    refresh = {f"refresh token {n}": token for n, token in enumerate(sorted(provider_fake._refresh_tokens))}
    assert len(tokens) >= 3 and refresh  # app-only, its fresh one after the 401, Gmail's: all searched
    secrets = {"Graph client secret": GRAPH_SECRET, "Gmail client secret": GMAIL_SECRET, **tokens, **refresh}
    assert_search_finds(secrets)
    output = capsys.readouterr()
    haystacks = {
        **responses,
        **data_dir_haystacks(app_config.data_dir, app_config.resolved_secret_key_file),
        **log_haystacks(caplog),
        **{f"message {n} received": m.mime for n, m in enumerate(mail_api_fake.received)},
        "stdout": output.out,
        "stderr": output.err,
    }
    assert_nothing_leaked(haystacks, secrets)
