"""OAuth2 facts without a network: scopes asked for, error bodies and pages read, the account that
signed in, and the health of stored tokens at the edges of each provider's refresh-token lifetime."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from alertmail.domain.oauth import (
    OAuthTokens,
    account_from_claims,
    account_mismatch,
    authorization_params,
    endpoint_host,
    id_token_claims,
    provider_error,
    request_scopes,
    settings_changed_since_sign_in,
    token_health,
)
from alertmail.domain.settings import MailSettings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def settings(**changes: Any) -> MailSettings:
    base: dict[str, Any] = {
        "auth_type": "oauth2",
        "oauth_provider": "microsoft",
        "client_id": "client-1",
        "token_endpoint": "https://login.example/token",
        "scopes": "https://outlook.office.com/SMTP.Send offline_access",
        "username": "alerts@example.com",
        "from_address": "alerts@example.com",
    }
    return MailSettings.model_construct(**{**base, **changes})


def tokens(**changes: Any) -> OAuthTokens:
    base: dict[str, Any] = {
        "grant": "authorization_code",
        "access_token": SecretStr("a"),
        "refresh_token": SecretStr("r"),
        "access_expires_at": NOW + timedelta(hours=1),
        "obtained_at": NOW - timedelta(days=1),
        "client_id": "client-1",
        "token_endpoint": "https://login.example/token",
    }
    return OAuthTokens(**{**base, **changes})


# --- requests ---------------------------------------------------------------------------------------


def test_scopes_for_microsoft_and_google_ask_for_the_account_too() -> None:
    assert request_scopes(settings(), "authorization_code") == (
        "https://outlook.office.com/SMTP.Send offline_access openid email"
    )
    google = settings(oauth_provider="google", scopes="openid https://mail.google.com/")
    assert request_scopes(google, "authorization_code") == "openid https://mail.google.com/ email"
    assert (
        request_scopes(settings(oauth_provider="custom", scopes="smtp  send"), "authorization_code")
        == "smtp send"
    )


def test_app_only_scopes() -> None:
    assert request_scopes(settings(), "client_credentials") == "https://outlook.office365.com/.default"
    assert request_scopes(settings(oauth_provider="custom", scopes="smtp"), "client_credentials") == "smtp"


def test_google_alone_needs_offline_consent() -> None:
    assert authorization_params(settings(oauth_provider="google")) == {
        "access_type": "offline",
        "prompt": "consent",
    }
    assert authorization_params(settings()) == {}
    assert authorization_params(settings(oauth_provider="custom")) == {}


def test_endpoint_host() -> None:
    assert endpoint_host("https://Login.Example:8443/token") == "login.example"
    assert endpoint_host("not a url") is None


# --- error bodies and pages -------------------------------------------------------------------------


def test_a_microsoft_body_gives_its_most_specific_code_and_support_fields() -> None:
    body = {
        "error": "invalid_grant",
        "error_description": "AADSTS700082: The refresh token has expired.\r\nTrace ID: t",
        "error_codes": [700082, "x"],
        "trace_id": "t",
        "correlation_id": "c",
        "timestamp": "2026-12-01 12:00:00Z",
        "error_uri": "https://login.example/error",
    }
    error = provider_error(body, stage="refresh", http_status=400, host="login.example")
    assert (error.error, error.provider_code, error.error_codes, error.stage) == (
        "invalid_grant",
        "AADSTS700082",
        (700082,),
        "refresh",
    )
    assert (error.trace_id, error.correlation_id, error.timestamp, error.error_uri) == (
        "t",
        "c",
        "2026-12-01 12:00:00Z",
        "https://login.example/error",
    )
    assert (error.http_status, error.host) == (400, "login.example")


def test_the_code_comes_from_the_description_then_the_codes_then_the_error() -> None:
    assert (
        provider_error({"error": "e", "error_codes": [50011, 1]}, stage="token").provider_code
        == "AADSTS50011"
    )
    assert provider_error({"error": "invalid_client"}, stage="token").provider_code == "invalid_client"
    bare = provider_error({}, stage="token")
    assert (bare.error, bare.description, bare.provider_code, bare.error_codes) == (
        "unknown_error",
        "",
        "unknown_error",
        (),
    )


@pytest.mark.parametrize(
    ("page", "error", "code", "description"),
    [
        (
            "<p>AADSTS50011: The redirect URI <b>x</b> does not match.</p>",
            "invalid_request",
            "AADSTS50011",
            "AADSTS50011: The redirect URI x does not match.",
        ),
        ("<h1>Error 400: redirect_uri_mismatch</h1>", "redirect_uri_mismatch", "redirect_uri_mismatch", ""),
        (
            "<pre><strong>error</strong>: invalid_client</pre>"
            "<pre><strong>error_description</strong>: client unknown</pre>",
            "invalid_client",
            "invalid_client",
            "client unknown",
        ),
        ("<pre><strong>error</strong>: access_denied</pre>", "access_denied", "access_denied", ""),
    ],
)
def test_error_pages_are_read(page: str, error: str, code: str, description: str) -> None:
    """Each provider's page by the mark only it has (sec #13: any other page is not echoed)."""
    found = provider_error(page, stage="authorize", http_status=400, host="id.example")
    assert (found.error, found.provider_code, found.description) == (error, code, description)
    assert (found.stage, found.http_status, found.host) == ("authorize", 400, "id.example")


@pytest.mark.parametrize(
    "page",
    [
        "<h1>Bad Request</h1>",
        "<pre>error: invalid_client\nerror_description: internal detail</pre>",
        "<p><strong>AADSTS50011</strong>: internal detail</p>",
    ],
)
def test_a_page_that_names_no_error_is_a_refusal_with_its_status(page: str) -> None:
    found = provider_error(page, stage="authorize", http_status=400)
    assert (found.error, found.description) == (
        "authorization_refused",
        "the provider refused the sign-in request (HTTP 400)",
    )


# --- the account that signed in ---------------------------------------------------------------------


def jwt(payload: object) -> str:
    encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return f"header.{encoded}.signature"


@pytest.mark.parametrize("email", ["a@b.co", "ab@b.co", "abc@b.co", "abcd@b.co"])  # every padding length
def test_id_token_claims_are_read_whatever_their_padding(email: str) -> None:
    assert id_token_claims(jwt({"email": email})) == {"email": email}


@pytest.mark.parametrize(
    "token", ["", "no-dots", "a.!!!.c", jwt([1, 2]), "a." + base64.b64encode(b"{x").decode()]
)
def test_an_unreadable_id_token_has_no_claims(token: str) -> None:
    assert id_token_claims(token) == {}


def test_the_account_is_the_most_specific_claim_present() -> None:
    assert account_from_claims({"sub": "s", "upn": "u@x", "email": "e@x"}) == "e@x"
    assert (
        account_from_claims({"email": "", "preferred_username": 7, "unique_name": "n@x", "sub": "s"}) == "n@x"
    )
    assert account_from_claims({"sub": "s"}) == "s"
    assert account_from_claims(None) == ""
    assert account_from_claims({}) == ""


def test_the_mailbox_that_signed_in_matches_regardless_of_case() -> None:
    assert account_mismatch("Alerts@Example.com", settings()) == ""
    assert account_mismatch("", settings()) == ""
    assert account_mismatch("not-an-address", settings()) == ""


def test_a_mismatch_names_each_setting_that_differs() -> None:
    both = account_mismatch("other@example.com", settings())
    assert both.startswith(
        "Signed in as other@example.com, which is not the Username (alerts@example.com) and the From "
        "Address (alerts@example.com). The relay will refuse"
    )
    one = account_mismatch("other@example.com", settings(username="", from_address="Other@example.com"))
    assert one == ""
    only_from = account_mismatch("alerts@example.com", settings(from_address="noc@example.com"))
    assert "which is not the From Address (noc@example.com)." in only_from
    assert "Username" not in only_from


# --- token health ----------------------------------------------------------------------------------


def test_no_tokens_means_not_authorized() -> None:
    health = token_health(None, settings(), NOW)
    assert (health.state, health.reason) == (
        "not_authorized",
        "E-mail Authorization Required: sign in to the provider",
    )


def test_a_dead_refresh_token_says_why() -> None:
    dead = token_health(
        tokens(reauthorization_required=True, last_error="AADSTS700082: expired"), settings(), NOW
    )
    assert (dead.state, dead.reason) == ("reauthorization_required", "Sign in again: AADSTS700082: expired")
    assert dead.access_expires_at == NOW + timedelta(hours=1)
    plain = token_health(tokens(reauthorization_required=True), settings(), NOW)
    assert plain.reason == "Sign in again: the refresh token no longer works"


@pytest.mark.parametrize(
    "change", [{"client_id": "client-2"}, {"token_endpoint": "https://other.example/token"}]
)
def test_tokens_of_another_client_or_endpoint_need_a_new_sign_in(change: dict[str, str]) -> None:
    assert settings_changed_since_sign_in(tokens(), settings(**change))
    assert token_health(tokens(), settings(**change), NOW).state == "reauthorization_required"
    assert not settings_changed_since_sign_in(tokens(), settings())


# (provider, settings changes, lifetime, counted from the last use?)
LIFETIMES = [
    ("microsoft", {}, timedelta(days=90), True),
    ("google", {"oauth_provider": "google"}, timedelta(days=180), True),
    ("google testing", {"oauth_provider": "google", "oauth_app_testing": True}, timedelta(days=7), False),
]


@pytest.mark.parametrize(
    ("name", "changes", "lifetime", "from_use"), LIFETIMES, ids=[x[0] for x in LIFETIMES]
)
def test_a_refresh_token_is_expiring_in_the_last_quarter_of_its_lifetime(
    name: str, changes: dict[str, Any], lifetime: timedelta, from_use: bool
) -> None:
    obtained = NOW - timedelta(days=3)
    refreshed = NOW - timedelta(days=1)
    stored = tokens(obtained_at=obtained, refreshed_at=refreshed)
    risk_at = (refreshed if from_use else obtained) + lifetime
    at_edge = risk_at - lifetime / 4
    expiring = token_health(stored, settings(**changes), at_edge)
    assert (expiring.state, expiring.refresh_risk_at) == ("expiring", risk_at)
    assert expiring.reason == f"The refresh token expires at {risk_at:%Y-%m-%d %H:%M} UTC"
    assert name.split()[0].capitalize() in expiring.risk
    valid = token_health(stored, settings(**changes), at_edge - timedelta(microseconds=1))
    assert (valid.state, valid.reason, valid.refresh_risk_at) == ("valid", "Authorized", risk_at)


def test_the_last_use_is_the_last_refresh_or_else_the_sign_in() -> None:
    assert tokens().last_used_at == NOW - timedelta(days=1)
    assert tokens(refreshed_at=NOW).last_used_at == NOW


@pytest.mark.parametrize(
    ("stored", "changes"),
    [
        (tokens(grant="client_credentials"), {}),
        (tokens(refresh_token=None), {}),
        (tokens(), {"oauth_provider": "custom"}),
    ],
    ids=["app-only", "no refresh token", "custom provider"],
)
def test_without_a_known_refresh_lifetime_tokens_stay_valid(
    stored: OAuthTokens, changes: dict[str, Any]
) -> None:
    much_later = replace(stored, obtained_at=NOW - timedelta(days=400))
    health = token_health(much_later, settings(**changes), NOW)
    assert (health.state, health.refresh_risk_at, health.risk) == ("valid", None, "")


def test_an_id_token_without_its_signature_part_is_still_read() -> None:
    header, payload, _ = jwt({"email": "a@b.co"}).split(".")
    assert id_token_claims(f"{header}.{payload}") == {"email": "a@b.co"}


@pytest.mark.parametrize("header", ["abcd", "abcdefgh", "abcdefghijkl"])  # headers that need no padding
def test_the_payload_is_padded_by_its_own_length(header: str) -> None:
    _, payload, _ = jwt({"email": "ab@b.co"}).split(".")
    assert len(payload) % 4 != 0
    assert id_token_claims(f"{header}.{payload}.sig") == {"email": "ab@b.co"}
