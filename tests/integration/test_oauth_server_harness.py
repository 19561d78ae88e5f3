"""The test OAuth2 server (oidc-provider) and its harness do what other tests rely on.

Plain httpx plays the client here, so that these tests prove the harness, not alertmail's client.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from aiosmtplib import SMTP, SMTPAuthenticationError

from tests.support.oauth_server import (
    DEFAULT_LOGIN,
    SMTP_SCOPE,
    OAuthClientRegistration,
    OAuthServer,
    introspection_validator,
)
from tests.support.smtp import AuthAttempt, SmtpServerFactory, SmtpSink

REDIRECT_URI = "http://alertmail.test/oauth/callback"
SCOPE = f"openid offline_access email {SMTP_SCOPE}"


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    redirect_uri: str
    state: str
    code_verifier: str


def authorization_request(
    server: OAuthServer, client: OAuthClientRegistration, redirect_uri: str = REDIRECT_URI
) -> AuthorizationRequest:
    """The request a standard client (Authlib) sends: code flow, PKCE S256, a one-time state."""
    state, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "scope": SCOPE,
        "state": state,
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
    }
    url = f"{server.authorization_endpoint}?{urlencode(query)}"
    return AuthorizationRequest(url, redirect_uri, state, verifier)


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified: enough to read what the server put in it."""
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


async def token_request(server: OAuthServer, client: OAuthClientRegistration, **form: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False) as http:
        return await http.post(server.token_endpoint, auth=client.auth, data=form)


async def sign_in_and_redeem(
    server: OAuthServer, client: OAuthClientRegistration, login: str = DEFAULT_LOGIN
) -> dict[str, Any]:
    request = authorization_request(server, client)
    redirect = await server.sign_in(request.url, login=login)
    response = await token_request(
        server,
        client,
        grant_type="authorization_code",
        code=query_of(redirect)["code"],
        redirect_uri=request.redirect_uri,
        code_verifier=request.code_verifier,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture
async def client(oauth_server: OAuthServer) -> OAuthClientRegistration:
    return await oauth_server.register_client([REDIRECT_URI])


@pytest.fixture
async def tokens(oauth_server: OAuthServer, client: OAuthClientRegistration) -> dict[str, Any]:
    return await sign_in_and_redeem(oauth_server, client)


# --- authorization ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://alertmail.test/oauth/callback",
        "http://127.0.0.1:8025/oauth/callback",
        "http://localhost:8025/cb",
    ],
)
async def test_sign_in_ends_at_the_redirect_uri_with_a_code_and_the_state(
    oauth_server: OAuthServer, redirect_uri: str
) -> None:
    client = await oauth_server.register_client([redirect_uri])
    request = authorization_request(oauth_server, client, redirect_uri)

    redirect = await oauth_server.sign_in(request.url)

    assert redirect.startswith(f"{redirect_uri}?")
    query = query_of(redirect)
    assert query["code"] and query["state"] == request.state
    assert query["iss"] == oauth_server.issuer


async def test_refused_consent_ends_with_access_denied(
    oauth_server: OAuthServer, client: OAuthClientRegistration
) -> None:
    request = authorization_request(oauth_server, client)

    redirect = await oauth_server.sign_in(request.url, consent=False)

    assert redirect.startswith(f"{REDIRECT_URI}?")
    query = query_of(redirect)
    assert (query["error"], query["state"]) == ("access_denied", request.state)
    assert "code" not in query


async def test_an_unregistered_redirect_uri_gets_the_error_page(
    oauth_server: OAuthServer, client: OAuthClientRegistration
) -> None:
    request = authorization_request(oauth_server, client, "http://alertmail.test/elsewhere")

    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.get(request.url)

    assert response.status_code == 400
    assert "invalid_redirect_uri" in response.text


# --- tokens -------------------------------------------------------------------------------------


async def test_the_code_with_its_verifier_buys_access_refresh_and_id_tokens(
    oauth_server: OAuthServer, client: OAuthClientRegistration, tokens: dict[str, Any]
) -> None:
    assert tokens["token_type"] == "Bearer"
    assert tokens["access_token"] and tokens["refresh_token"]
    assert tokens["scope"] == SMTP_SCOPE
    id_token = jwt_claims(tokens["id_token"])
    assert (id_token["iss"], id_token["aud"]) == (oauth_server.issuer, client.client_id)
    assert id_token["sub"] == id_token["email"] == DEFAULT_LOGIN


async def test_the_code_without_its_verifier_is_refused(
    oauth_server: OAuthServer, client: OAuthClientRegistration
) -> None:
    request = authorization_request(oauth_server, client)
    redirect = await oauth_server.sign_in(request.url)

    response = await token_request(
        oauth_server,
        client,
        grant_type="authorization_code",
        code=query_of(redirect)["code"],
        redirect_uri=REDIRECT_URI,
    )

    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


async def test_a_live_access_token_introspects_active_for_the_signed_in_user(
    oauth_server: OAuthServer, client: OAuthClientRegistration, tokens: dict[str, Any]
) -> None:
    claims = await oauth_server.introspect(tokens["access_token"])

    assert claims["active"] is True
    assert (claims["sub"], claims["client_id"]) == (DEFAULT_LOGIN, client.client_id)
    assert (claims["scope"], claims["aud"]) == (SMTP_SCOPE, oauth_server.smtp_resource)
    assert await oauth_server.introspect("not-a-token") == {"active": False}


async def test_the_refresh_token_rotates_on_every_use(
    oauth_server: OAuthServer, client: OAuthClientRegistration, tokens: dict[str, Any]
) -> None:
    # With the scopes of the sign-in again, as Authlib sends them (offline_access included).
    first = await token_request(
        oauth_server, client, grant_type="refresh_token", refresh_token=tokens["refresh_token"], scope=SCOPE
    )
    assert first.status_code == 200, first.text
    refreshed = first.json()
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    assert (await oauth_server.introspect(refreshed["access_token"]))["active"] is True

    replayed = await token_request(
        oauth_server, client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )

    assert (replayed.status_code, replayed.json()["error"]) == (400, "invalid_grant")


async def test_a_revoked_refresh_token_fails_with_invalid_grant(
    oauth_server: OAuthServer, client: OAuthClientRegistration, tokens: dict[str, Any]
) -> None:
    await oauth_server.revoke(tokens["refresh_token"], client)

    response = await token_request(
        oauth_server, client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )

    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    assert (await oauth_server.introspect(tokens["access_token"]))["active"] is False  # the grant went


async def test_an_access_token_outlives_its_ttl_inactive(oauth_server: OAuthServer) -> None:
    client = await oauth_server.register_client([REDIRECT_URI], access_token_ttl=2)
    tokens = await sign_in_and_redeem(oauth_server, client)
    assert tokens["expires_in"] == 2
    assert (await oauth_server.introspect(tokens["access_token"]))["active"] is True

    await asyncio.sleep(3)

    assert (await oauth_server.introspect(tokens["access_token"]))["active"] is False


async def test_client_credentials_buy_an_smtp_token(
    oauth_server: OAuthServer, client: OAuthClientRegistration
) -> None:
    response = await token_request(oauth_server, client, grant_type="client_credentials", scope=SMTP_SCOPE)

    assert response.status_code == 200, response.text
    claims = await oauth_server.introspect(response.json()["access_token"])
    assert (claims["active"], claims["client_id"], claims["scope"]) == (True, client.client_id, SMTP_SCOPE)


# --- the SMTP sink asks the server ----------------------------------------------------------------


@pytest.fixture
async def introspecting_sink(oauth_server: OAuthServer, smtp_server_factory: SmtpServerFactory) -> SmtpSink:
    return await smtp_server_factory(
        tls="starttls",
        auth_required=True,
        auth_mechanisms=("XOAUTH2", "OAUTHBEARER"),
        token_validator=introspection_validator(oauth_server),
    )


def smtp_client(sink: SmtpSink, tls_ca_pem: str) -> SMTP:
    context = ssl.create_default_context(cadata=tls_ca_pem)
    return SMTP(hostname=sink.host, port=sink.port, start_tls=True, tls_context=context, timeout=10)


async def test_the_sink_accepts_xoauth2_with_a_live_token_and_refuses_garbage(
    introspecting_sink: SmtpSink, tls_ca_pem: str, tokens: dict[str, Any]
) -> None:
    async with smtp_client(introspecting_sink, tls_ca_pem) as smtp:
        with pytest.raises(SMTPAuthenticationError) as refused:
            await smtp.auth_xoauth2(DEFAULT_LOGIN, "garbage-token")
        accepted = await smtp.auth_xoauth2(DEFAULT_LOGIN, tokens["access_token"])

    assert refused.value.code == 535
    assert accepted.code == 235
    assert introspecting_sink.auth_attempts == [
        AuthAttempt("XOAUTH2", DEFAULT_LOGIN, success=False, tls=True),
        AuthAttempt("XOAUTH2", DEFAULT_LOGIN, success=True, tls=True),
    ]


async def test_the_sink_refuses_a_live_token_of_another_user(
    introspecting_sink: SmtpSink, tls_ca_pem: str, tokens: dict[str, Any]
) -> None:
    async with smtp_client(introspecting_sink, tls_ca_pem) as smtp:
        with pytest.raises(SMTPAuthenticationError) as refused:
            await smtp.auth_xoauth2("someone-else@example.com", tokens["access_token"])

    assert refused.value.code == 535


async def test_the_sink_speaks_oauthbearer_with_the_error_challenge(
    introspecting_sink: SmtpSink, tls_ca_pem: str, tokens: dict[str, Any]
) -> None:
    def initial_response(token: str) -> bytes:
        fields = f"n,a={DEFAULT_LOGIN},\x01host=localhost\x01port=587\x01auth=Bearer {token}\x01\x01"
        return base64.b64encode(fields.encode())

    async with smtp_client(introspecting_sink, tls_ca_pem) as smtp:
        await smtp.ehlo()
        challenge = await smtp.execute_command(b"AUTH", b"OAUTHBEARER", initial_response("garbage"))
        failure = await smtp.execute_command(b"AQ==")
        success = await smtp.execute_command(
            b"AUTH", b"OAUTHBEARER", initial_response(tokens["access_token"])
        )

    assert challenge.code == 334
    assert json.loads(base64.b64decode(challenge.message))["status"] == "invalid_token"
    assert (failure.code, success.code) == (535, 235)
    assert [attempt.success for attempt in introspecting_sink.auth_attempts] == [False, True]
    assert [command.argument for command in introspecting_sink.commands if command.verb == "AUTH"] == [
        "OAUTHBEARER",
        "OAUTHBEARER",
    ]
