"""Microsoft Graph as the fallback transport (issue #16: "or Graph when it exists").

The primary SMTP relay refuses connections; after `fallback_after_minutes` mail goes out through
the Graph stand-in with an app-only token from the Microsoft stand-in, asked with the fallback's
own app (tenant, client ID, secret) for the fallback's endpoint, sending as the fallback's mailbox.
That token is kept in memory only: the stored token row, the primary's, is never written.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trustme
from sqlalchemy import select

from alertmail.adapters.storage.models import OAuthTokenRow
from alertmail.adapters.storage.transport_state_repository import SqlTransportStateRepository
from alertmail.composition import Container
from alertmail.config import AppConfig
from alertmail.domain.fallback import PrimaryFailure
from alertmail.domain.outbox import RetryPolicy
from alertmail.domain.settings_presets import CLOUD_LOGIN
from tests.support.api_settings import MAILBOX, strict_tokens
from tests.support.app import Api
from tests.support.delivery import FakeClock, Sinks, queue_messages, relay_changes
from tests.support.delivery_checks import statuses
from tests.support.fallback import FALLBACK_STARTED, clocked_fallback
from tests.support.leaks import (
    assert_nothing_leaked,
    assert_search_finds,
    data_dir_haystacks,
    log_haystacks,
    record_responses,
)
from tests.support.mail_api_fakes import MailApiFake
from tests.support.oauth_settings import CLIENT_ID, CLIENT_SECRET, TENANT_ID
from tests.support.provider_fakes import ProviderFake
from tests.support.smtp import server_context

BACKOFF = RetryPolicy(first_delay=timedelta(seconds=20), max_delay=timedelta(seconds=40), jitter=0)


@pytest.fixture
async def sinks(tls_server_cert: trustme.LeafCert) -> AsyncIterator[Sinks]:
    async with Sinks(server_context(tls_server_cert)) as started:
        yield started


def graph_fallback(
    provider: ProviderFake, api: MailApiFake, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    # The fallback's token endpoint is its cloud's login host for its tenant: here the stand-in's.
    monkeypatch.setitem(CLOUD_LOGIN, api.base_url.lower(), provider.base_url)
    return {
        "fallback_email_type": "graph",
        "fallback_graph_endpoint": api.base_url,
        "fallback_tenant_id": TENANT_ID,
        "fallback_client_id": CLIENT_ID,
        "fallback_client_secret": CLIENT_SECRET,
        "fallback_username": MAILBOX,
        "fallback_after_minutes": 2,
    }


async def test_a_refused_smtp_primary_hands_over_to_a_graph_fallback_signed_in_app_only(
    container: Container,
    provider_fake: ProviderFake,
    mail_api_fake: MailApiFake,
    refused_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    strict_tokens(provider_fake, mail_api_fake)
    fields = relay_changes(refused_port, **graph_fallback(provider_fake, mail_api_fake, monkeypatch))
    await container.settings.save(fields, actor="test")
    clock = FakeClock()
    clocked = clocked_fallback(container, clock, BACKOFF)
    try:
        queued = await queue_messages(container, 3, now=clock())
        for _ in range(5):  # two minutes of refused connections, without a break
            while await clocked.worker.run_once():
                pass
            clock.advance(timedelta(seconds=30))
        while await clocked.worker.run_once():
            pass
        assert (await clocked.fallback.state()).active == "fallback"
        assert {m.transport for m in await statuses(container, queued)} == {"fallback"}
    finally:
        await clocked.close()

    ids = {str(r.message["Message-ID"]) for r in mail_api_fake.received}
    assert {m.message_id for m in queued} <= ids
    assert {r.mailbox for r in mail_api_fake.received} == {MAILBOX}
    [notice] = [r for r in mail_api_fake.received if str(r.message["Subject"]).endswith(FALLBACK_STARTED)]
    assert f"graph {MAILBOX}" in notice.mime.decode()  # which transport mail now goes through
    (token_request,) = provider_fake.token_requests  # one app-only token, reused for every message
    assert token_request.form["grant_type"] == "client_credentials"
    assert token_request.form["scope"] == f"{mail_api_fake.base_url}/.default"
    async with container.database.sessionmaker() as session:
        assert (await session.scalars(select(OAuthTokenRow))).all() == []  # kept in memory only


FALLBACK_SECRET = "Fallback-Graph-Secret-7e21c"  # a length not a multiple of 3: base64 pads it


async def test_the_graph_fallback_client_secret_is_write_only_encrypted_and_never_leaks(
    api: Api,
    app_config: AppConfig,
    provider_fake: ProviderFake,
    mail_api_fake: MailApiFake,
    refused_port: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    strict_tokens(provider_fake, mail_api_fake)
    provider_fake.client_secret = FALLBACK_SECRET
    responses = record_responses(api.client)
    fields = relay_changes(refused_port, **graph_fallback(provider_fake, mail_api_fake, monkeypatch))
    fields["fallback_client_secret"] = FALLBACK_SECRET
    saved = await api.client.patch("/api/v1/mail-settings", json=fields)
    assert saved.status_code == 200, saved.text
    shown = saved.json()["settings"]["settings"]
    assert shown["fallback_client_secret_set"] is True and "fallback_client_secret" not in shown
    # An empty secret keeps the stored one; asking for a sign-in as a person is refused, by name.
    kept = await api.client.patch("/api/v1/mail-settings", json={"fallback_client_secret": ""})
    assert kept.json()["settings"]["settings"]["fallback_client_secret_set"] is True
    refused = await api.client.patch("/api/v1/mail-settings", json={"fallback_auth_type": "oauth2"})
    assert refused.status_code == 422, refused.text
    assert "fallback_auth_type" in refused.text and "app-only (client credentials)" in refused.text
    assert (await api.client.get("/api/v1/mail-settings")).status_code == 200

    # The primary has failed for five minutes: the running app sends through the Graph fallback.
    state = SqlTransportStateRepository(api.container.database.sessionmaker)
    failure = PrimaryFailure("connect_refused", "Connection refused", "Start the relay.")
    for ago in (5, 0):
        await state.primary_failed(datetime.now(UTC) - timedelta(minutes=ago), failure, timedelta(minutes=10))
    assert (await api.client.post("/api/v1/events", json={"type": "test"})).status_code == 202
    for _ in range(200):
        if len(mail_api_fake.received) >= 2:  # the "fallback in use" notice and the event
            break
        await asyncio.sleep(0.05)
    assert len(mail_api_fake.received) >= 2
    assert (await api.client.get("/healthz")).json()["status"] == "degraded"
    async with api.container.database.sessionmaker() as session:  # the app's fallback token: memory only
        assert (await session.scalars(select(OAuthTokenRow))).all() == []

    with closing(sqlite3.connect(app_config.data_dir / "alertmail.db")) as connection:
        [stored] = connection.execute("SELECT fallback_client_secret FROM mail_settings").fetchone()
    assert stored.startswith("gAAAAA")  # stored, as ciphertext
    secrets = {"fallback client secret": FALLBACK_SECRET}
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
