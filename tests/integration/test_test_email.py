"""The test e-mail end to end, and one classified Mail Server Logs entry per failure category.

Every failure comes from a real condition: a real aiosmtpd server that misbehaves, a name that
cannot resolve, a port nothing listens on, a certificate nobody trusts, a sendmail that fails.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from alertmail.domain import messages
from tests.support.app import ADMIN, ADMIN_EMAIL, Api, Cli
from tests.support.smtp import (
    AUTH_UNSUCCESSFUL,
    CONTENT_REJECTED,
    HOST,
    TRY_AGAIN_LATER,
    SmtpServerFactory,
    SmtpSink,
    user_unknown,
)

BASE: dict[str, Any] = {"from_address": "alerts@example.com", "hostname": HOST, "connect_timeout": 5}


def relay(sink: SmtpSink | int, **changes: Any) -> dict[str, Any]:
    port = sink if isinstance(sink, int) else sink.port
    tls = "none" if isinstance(sink, int) else sink.options.tls
    encryption = {"none": "none", "implicit": "tls", "starttls": "starttls"}[tls]
    return {**BASE, "port": port, "encryption": encryption, **changes}


# --- success ------------------------------------------------------------------------------------


async def test_api_sends_to_the_administrators_own_address(
    api: Api, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    sink = await smtp_server_factory(tls="starttls", auth_required=True)
    changes = relay(sink, auth_type="basic", username="relay-user", password="relay-password")
    await api.client.patch("/api/v1/mail-settings", json={**changes, "tls_trusted_ca": tls_ca_pem})
    response = await api.client.post("/api/v1/mail-settings/test-email")
    assert response.status_code == 200, response.text
    assert response.json()["message"] == f"A test e-mail was sent to {ADMIN_EMAIL}"
    [received] = sink.messages
    assert received.rcpt_tos == (ADMIN_EMAIL,) and received.tls and received.authenticated_as == "relay-user"
    message = received.message
    assert message["From"] == "alerts@example.com" and message["Date"] and message["Message-ID"]
    assert {part.get_content_type() for part in message.iter_parts()} == {"text/plain", "text/html"}


async def test_api_sends_to_another_address(api: Api, smtp_server: SmtpSink) -> None:
    await api.client.patch("/api/v1/mail-settings", json=relay(smtp_server))
    response = await api.client.post("/api/v1/mail-settings/test-email", json={"to": "ops@example.com"})
    assert response.json()["message"] == "A test e-mail was sent to ops@example.com"
    assert smtp_server.messages[0].rcpt_tos == ("ops@example.com",)


async def test_administrator_without_email_gets_the_seed_message(api: Api, smtp_server: SmtpSink) -> None:
    await api.client.patch("/api/v1/mail-settings", json=relay(smtp_server))
    await api.container.administrators.set_email(ADMIN, None)
    response = await api.client.post("/api/v1/mail-settings/test-email")
    assert response.status_code == 409
    assert response.json()["message"] == messages.NO_ADMINISTRATOR_EMAIL
    assert smtp_server.messages == []


async def test_send_test_on_save(api: Api, smtp_server: SmtpSink) -> None:
    response = await api.client.patch(
        "/api/v1/mail-settings", json={**relay(smtp_server), "send_test_on_save": True}
    )
    body = response.json()
    assert body["message"] == messages.CHANGES_SAVED
    assert body["test_email"]["message"] == f"A test e-mail was sent to {ADMIN_EMAIL}"
    assert len(smtp_server.messages) == 1


async def test_failed_test_email_is_explained_and_logged(api: Api, refused_port: int) -> None:
    await api.client.patch("/api/v1/mail-settings", json=relay(refused_port))
    response = await api.client.post("/api/v1/mail-settings/test-email")
    assert response.status_code == 502
    body = response.json()
    assert body["message"] == messages.TEST_EMAIL_FAILED
    assert body["failure"]["category"] == "connect_refused"
    assert body["failure"]["hint"]
    logs = (await api.client.get("/api/v1/mail-server-logs")).json()["entries"]
    assert [entry["id"] for entry in logs] == [body["log_entry_id"]]
    assert logs[0]["status"] == "error" and logs[0]["context"] == "test e-mail"


# --- one entry per category, from a real condition ----------------------------------------------


async def failing_relay(
    case: str, factory: SmtpServerFactory, refused_port: int, tmp_path: Path
) -> dict[str, Any]:
    """Settings that fail in the way `case` names."""
    if case == "dns":
        return {**relay(25), "hostname": "relay.does-not-exist.invalid"}
    if case == "connect_timeout":
        return relay(await factory(silent=True), connect_timeout=1)
    if case == "connect_refused":
        return relay(refused_port)
    if case == "tls_handshake":
        return relay(await factory(tls="implicit"))  # a certificate from a CA nobody trusts
    if case == "tls_unavailable":
        sink = await factory(auth_require_tls=False)
        return relay(sink, encryption="starttls", auth_type="basic", username="u", password="p")
    if case == "smtp_throttled":
        return relay(await factory(greeting=TRY_AGAIN_LATER))
    if case == "smtp_recipient":
        return relay(await factory(rcpt_replies={"ops@example.com": user_unknown("ops@example.com")}))
    if case == "smtp_policy":
        return relay(await factory(data_reply=CONTENT_REJECTED))
    if case == "smtp_auth":
        sink = await factory(auth_require_tls=False)
        wrong = {"username": "relay-user", "password": "wrong-password", "allow_plaintext_auth": True}
        return relay(sink, auth_type="basic", **wrong)
    assert case == "native"
    script = tmp_path / "sendmail"
    script.write_text("#!/bin/sh\necho 'local MTA is down' >&2\nexit 69\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return {"from_address": "alerts@example.com", "email_type": "native", "_sendmail": str(script)}


EXPECTED = {
    "dns": "Could not resolve hostname relay.does-not-exist.invalid",
    "connect_timeout": "Connection timed out after 1 seconds while connecting to 127.0.0.1:",
    "connect_refused": "Connection refused by 127.0.0.1:",
    "tls_handshake": "TLS handshake failed - peer certificate validation error",
    "tls_unavailable": "STARTTLS is required but 127.0.0.1:",
    "smtp_throttled": TRY_AGAIN_LATER,
    "smtp_recipient": "550 5.1.1 <ops@example.com>",
    "smtp_policy": CONTENT_REJECTED,
    "smtp_auth": AUTH_UNSUCCESSFUL,
    "native": "failed with exit code 69: local MTA is down",
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
async def test_each_failure_category_is_logged_with_its_snapshot(
    case: str,
    app_config: AppConfig,
    smtp_server_factory: SmtpServerFactory,
    refused_port: int,
    tmp_path: Path,
) -> None:
    changes = await failing_relay(case, smtp_server_factory, refused_port, tmp_path)
    config = app_config.model_copy(update={"sendmail_path": changes.pop("_sendmail", "/usr/sbin/sendmail")})
    async with open_container(config) as container:
        await container.settings.save(changes, actor="tests")
        result = await container.test_email.send_test(to="ops@example.com")
        [entry] = await container.mail_logs.list()
    assert not result.sent and result.message == messages.TEST_EMAIL_FAILED
    assert result.failure is not None and result.failure.category == case
    assert entry.category == case and entry.status == "error" and entry.hint
    assert entry.message.startswith(EXPECTED[case]) or EXPECTED[case] in entry.message
    snapshot = entry.settings_snapshot
    assert {"hostname", "port", "username", "encryption"} <= set(snapshot)
    assert snapshot["hostname"] == changes.get("hostname", "")
    log_line = config.mail_log_path.read_text().splitlines()[-1]
    assert case in log_line


async def test_no_auth_reaches_a_server_without_starttls(
    container: Container, smtp_server_factory: SmtpServerFactory
) -> None:
    sink = await smtp_server_factory(auth_require_tls=False)
    await container.settings.save(
        relay(sink, encryption="starttls", auth_type="basic", username="u", password="p"), actor="tests"
    )
    await container.test_email.send_test(to="ops@example.com")
    assert not sink.auth_received and not sink.mail_received


# --- the CLI, as an administrator runs it ---------------------------------------------------------


async def test_cli_walkthrough(
    cli: Cli, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str, refused_port: int
) -> None:
    sink = await smtp_server_factory(tls="starttls", auth_required=True)
    created = await cli.run(
        "admin", "create", "root", "--email", "root@example.com", "--password-stdin", stdin="long-enough-pw\n"
    )
    assert created.returncode == 0, created.stderr
    fields = relay(sink, auth_type="basic", username="relay-user", tls_trusted_ca=tls_ca_pem)
    saved = await cli.run(
        "settings", "set", *(f"{k}={v}" for k, v in fields.items()), "password=-", stdin="relay-password\n"
    )
    assert saved.returncode == 0, saved.stderr
    assert messages.CHANGES_SAVED in saved.stdout

    sent = await cli.run("test-email")
    assert sent.returncode == 0, sent.stderr
    assert "A test e-mail was sent to root@example.com" in sent.stdout
    assert sink.messages[0].rcpt_tos == ("root@example.com",)

    clear = await cli.run("settings", "set", "encryption=none")  # the password would go in clear
    assert clear.returncode != 0 and "encryption" in clear.stderr and "allow_plaintext_auth" in clear.stderr
    await cli.run("settings", "set", f"port={refused_port}")
    failed = await cli.run("test-email")
    assert failed.returncode == 1
    assert messages.TEST_EMAIL_FAILED in failed.stderr
    assert "connect_refused" in failed.stderr and "Fix:" in failed.stderr
    plain = await cli.run("logs")
    # Regression: Rich once read "[connect_refused]" as a style tag and printed no category.
    assert f"[connect_refused] Connection refused by 127.0.0.1:{refused_port}" in plain.stdout
    logs = await cli.run("logs", "--json")
    entry = json.loads(logs.stdout.splitlines()[0])
    assert entry["category"] == "connect_refused"
    assert entry["settings_snapshot"]["username"] == "relay-user"
    assert entry["settings_snapshot"]["port"] == refused_port
