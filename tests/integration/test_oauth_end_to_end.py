"""OAuth2 end to end against a real authorization server (oidc-provider) and a real SMTP relay.

The relay (aiosmtpd) checks every XOAUTH2 token by asking the authorization server (introspection),
so a token the server has expired or revoked is refused exactly as Microsoft or Google would. The
flow: sign in (authorize, drive the server's login, callback, code exchange with PKCE), send, let
the access token expire and send again (automatic refresh), revoke the refresh token, send again
(`oauth_reauth`). Then every database row, file, log record and HTTP answer is searched for the
client secret and every token, in clear and in each encoding an XOAUTH2 string could carry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from alertmail.adapters.secret_box import FernetSecretBox
from alertmail.adapters.storage.oauth_repositories import SqlOAuthTokenRepository
from alertmail.config import AppConfig
from alertmail.domain import messages
from alertmail.domain.oauth import OAuthTokens
from tests.support.app import Api
from tests.support.leaks import (
    assert_nothing_leaked,
    assert_search_finds,
    data_dir_haystacks,
    log_haystacks,
    record_responses,
)
from tests.support.oauth_server import LOGIN, OAuthClientRegistration, OAuthServer, relay_for
from tests.support.smtp import SmtpServerFactory, SmtpSink

REDIRECT_URI = "http://alertmail.test/login/smtp-verification"
ACCESS_TOKEN_TTL = 3  # seconds: short, so the test sees a token expire


@pytest.fixture
def app_config(tmp_path: Path) -> AppConfig:
    # Refresh one second before expiry instead of five minutes, to match the short token lifetime.
    return AppConfig(data_dir=tmp_path / "data", node_name="test-node", oauth_refresh_margin=1)


def oauth_settings(
    server: OAuthServer, client: OAuthClientRegistration, sink: SmtpSink, pem: str, redirect_uri: str
) -> dict[str, Any]:
    return {
        "from_address": LOGIN,
        "email_type": "smtp",
        "hostname": "127.0.0.1",
        "port": sink.port,
        "encryption": "starttls",
        "tls_trusted_ca": pem,
        "auth_type": "oauth2",
        "oauth_provider": "custom",
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "authorization_endpoint": server.authorization_endpoint,
        "token_endpoint": server.token_endpoint,
        "scopes": "openid offline_access email smtp.send",
        "redirect_uri": redirect_uri,
        "username": LOGIN,
    }


def stored_tokens(app_config: AppConfig, api: Api) -> Callable[[], Awaitable[OAuthTokens | None]]:
    box = FernetSecretBox.from_key_file(app_config.resolved_secret_key_file)
    database = api.container.database
    return SqlOAuthTokenRepository(database.sessionmaker, box, dialect=database.dialect).load


async def sign_in_through_the_browser(api: Api, server: OAuthServer) -> str:
    started = (await api.client.post("/api/v1/oauth/authorize")).json()
    assert "code_challenge_method=S256" in started["authorization_url"]
    assert started["redirect_uri"] == REDIRECT_URI
    back = await server.sign_in(started["authorization_url"], login=LOGIN)
    assert back.startswith(REDIRECT_URI + "?")
    page = await api.client.get(back.removeprefix("http://alertmail.test"))
    assert page.status_code == 200, page.text
    return page.text


async def send_test_email(api: Api) -> dict[str, Any]:
    answer = await api.client.post("/api/v1/mail-settings/test-email", json={"to": "ops@example.com"})
    body: dict[str, Any] = answer.json()
    return body


async def test_sign_in_send_expire_refresh_revoke(
    api: Api,
    app_config: AppConfig,
    oauth_server: OAuthServer,
    smtp_server_factory: SmtpServerFactory,
    tls_ca_pem: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    responses = record_responses(api.client)
    client = await oauth_server.register_client([REDIRECT_URI], access_token_ttl=ACCESS_TOKEN_TTL)
    sink, validator = await relay_for(smtp_server_factory, oauth_server)
    settings = oauth_settings(oauth_server, client, sink, tls_ca_pem, REDIRECT_URI)
    assert (await api.client.patch("/api/v1/mail-settings", json=settings)).status_code == 200
    load_tokens = stored_tokens(app_config, api)

    # Sign in, and send with the token it gave.
    page = await sign_in_through_the_browser(api, oauth_server)
    assert messages.AUTHORIZATION_COMPLETE in page and LOGIN in page
    first = await load_tokens()
    assert first is not None and first.refresh_token is not None and first.account == LOGIN
    assert (await send_test_email(api))["sent"] is True
    status = (await api.client.get("/api/v1/oauth/status")).json()
    assert (status["state"], status["account"]) == ("valid", LOGIN)
    assert status["accepted_at"] is not None  # the relay accepted the token, recorded once

    # The access token expires at the server; the next send refreshes it first.
    await asyncio.sleep(ACCESS_TOKEN_TTL + 0.5)
    assert (await oauth_server.introspect(first.access_token.get_secret_value()))["active"] is False
    assert (await send_test_email(api))["sent"] is True
    second = await load_tokens()
    assert second is not None and second.refresh_token is not None
    assert second.access_token != first.access_token and second.refresh_token != first.refresh_token
    assert second.refreshed_at is not None
    assert len(sink.messages) == 2 and all(m.authenticated_as == LOGIN for m in sink.messages)

    # An administrator revokes the sign-in at the provider: the refresh token and its access tokens die.
    await oauth_server.revoke(second.refresh_token.get_secret_value(), client)
    failed = await send_test_email(api)
    assert failed["sent"] is False and failed["message"] == messages.TEST_EMAIL_FAILED
    assert (failed["failure"]["category"], failed["failure"]["provider_code"]) == (
        "oauth_reauth",
        "invalid_grant",
    )
    status = (await api.client.get("/api/v1/oauth/status")).json()
    assert status["state"] == "reauthorization_required" and status["last_error_code"] == "invalid_grant"
    entry = (await api.client.get("/api/v1/mail-server-logs", params={"category": "oauth_reauth"})).json()
    [logged] = entry["entries"]
    assert logged["settings_snapshot"]["client_id"] == client.client_id
    assert logged["settings_snapshot"]["redirect_uri"] == REDIRECT_URI
    assert len(sink.messages) == 2

    # Nothing more is asked of the provider with the dead token.
    refreshes = api.container.oauth_tokens.refreshes
    assert (await send_test_email(api))["failure"]["category"] == "oauth_reauth"
    assert api.container.oauth_tokens.refreshes == refreshes

    secrets = {"client secret": client.client_secret}
    secrets |= {f"access token {n}": token for n, token in enumerate(dict.fromkeys(validator.presented))}
    for label, tokens in (("first", first), ("second", second)):
        secrets[f"{label} refresh token"] = tokens.refresh_token.get_secret_value()  # type: ignore[union-attr]
        secrets[f"{label} access token"] = tokens.access_token.get_secret_value()
    assert_search_finds(secrets)
    haystacks = {
        **responses,
        **data_dir_haystacks(app_config.data_dir, app_config.resolved_secret_key_file),
        **log_haystacks(caplog),
    }
    assert_nothing_leaked(haystacks, secrets, username=LOGIN)


async def test_refused_consent_ends_in_the_failure_message(
    api: Api, oauth_server: OAuthServer, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    client = await oauth_server.register_client([REDIRECT_URI])
    sink, _ = await relay_for(smtp_server_factory, oauth_server)
    settings = oauth_settings(oauth_server, client, sink, tls_ca_pem, REDIRECT_URI)
    await api.client.patch("/api/v1/mail-settings", json=settings)

    started = (await api.client.post("/api/v1/oauth/authorize")).json()
    back = await oauth_server.sign_in(started["authorization_url"], login=LOGIN, consent=False)
    page = await api.client.get(back.removeprefix("http://alertmail.test"))

    assert page.status_code == 502
    assert messages.AUTHORIZATION_FAILED in page.text and "access_denied" in page.text
    status = (await api.client.get("/api/v1/oauth/status")).json()
    assert status["state"] == "not_authorized"


async def test_an_unregistered_redirect_uri_is_reported_before_the_browser_goes_anywhere(
    api: Api, oauth_server: OAuthServer, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    client = await oauth_server.register_client(["http://elsewhere.test/callback"])
    sink, _ = await relay_for(smtp_server_factory, oauth_server)
    await api.client.patch(
        "/api/v1/mail-settings", json=oauth_settings(oauth_server, client, sink, tls_ca_pem, REDIRECT_URI)
    )

    answer = await api.client.post("/api/v1/oauth/authorize")

    assert answer.status_code == 502
    body = answer.json()
    assert body["message"] == messages.AUTHORIZATION_FAILED
    assert (body["failure"]["category"], body["failure"]["provider_code"]) == (
        "oauth",
        "invalid_redirect_uri",
    )
    assert "Redirect URI" in body["failure"]["hint"]


async def test_a_replayed_authorization_code_is_refused_by_the_server(
    api: Api, oauth_server: OAuthServer, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    client = await oauth_server.register_client([REDIRECT_URI])
    sink, _ = await relay_for(smtp_server_factory, oauth_server)
    await api.client.patch(
        "/api/v1/mail-settings", json=oauth_settings(oauth_server, client, sink, tls_ca_pem, REDIRECT_URI)
    )
    started = (await api.client.post("/api/v1/oauth/authorize")).json()
    back = await oauth_server.sign_in(started["authorization_url"], login=LOGIN)
    assert (await api.client.get(back.removeprefix("http://alertmail.test"))).status_code == 200

    # The same code under a new, valid state: our state check passes, the server refuses the code.
    again = (await api.client.post("/api/v1/oauth/authorize")).json()
    code = back.split("code=")[1].split("&")[0]
    replay = await api.client.get("/login/smtp-verification", params={"state": again["state"], "code": code})

    assert replay.status_code == 502
    assert messages.AUTHORIZATION_FAILED in replay.text and "invalid_grant" in replay.text
