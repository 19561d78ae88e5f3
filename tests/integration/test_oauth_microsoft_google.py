"""OAuth2 sign-in with Microsoft 365 and Google, through the API, against the provider fake.

The fake answers with the providers' own bodies; the relay is a real aiosmtpd server speaking
XOAUTH2 over STARTTLS. The "browser" is a plain httpx client that follows the provider's redirect
back to alertmail's callback by hand.
"""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import httpx
import pytest

from alertmail.adapters.oauth_client import HttpOAuthClient
from alertmail.domain import messages
from alertmail.domain.classification import classify
from alertmail.domain.settings import MailSettings, apply_update
from alertmail.errors import OAuthError
from alertmail.services.clock import utc_now
from tests.support.app import Api
from tests.support.oauth_settings import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    TENANT_ID,
    browse,
    callback_path,
    google_settings,
    microsoft_settings,
    query_of,
)
from tests.support.provider_fakes import ProviderFake
from tests.support.smtp import AuthAttempt, SmtpServerFactory, SmtpSink

ACCESS_TOKEN = "EwB-fixed-access-token-for-the-sink"
OAUTH_HINTS = {
    "AADSTS7000215": "not its Secret ID",
    "AADSTS7000222": "Create a new client secret",
    "AADSTS50194": "Enter the Directory (Tenant) ID",
}


async def xoauth2_sink(factory: SmtpServerFactory, fake: ProviderFake) -> SmtpSink:
    """A STARTTLS relay that accepts XOAUTH2 for the fake's account with the fake's fixed token."""
    fake.access_token = ACCESS_TOKEN
    return await factory(
        tls="starttls",
        auth_required=True,
        auth_mechanisms=("XOAUTH2",),
        username=fake.account,
        access_token=ACCESS_TOKEN,
    )


async def configure(api: Api, changes: dict[str, Any]) -> None:
    response = await api.client.patch("/api/v1/mail-settings", json=changes)
    assert response.status_code == 200, response.text


async def start_sign_in(api: Api) -> str:
    """POST authorize; the address the provider sends the browser back to."""
    response = await api.client.post("/api/v1/oauth/authorize")
    assert response.status_code == 200, response.text
    return await browse(response.json()["authorization_url"])


async def sign_in(api: Api) -> httpx.Response:
    """A whole sign-in as the browser does it: the callback page alertmail answers."""
    return await api.client.get(callback_path(await start_sign_in(api)))


async def oauth_state(api: Api) -> str:
    response = await api.client.get("/api/v1/oauth/status")
    assert response.status_code == 200, response.text
    return str(response.json()["state"])


def page_text(response: httpx.Response) -> str:
    return html.unescape(response.text)


# --- Microsoft: the happy path ------------------------------------------------------------------


async def test_microsoft_sign_in_then_a_test_email_over_xoauth2(
    api: Api, provider_fake: ProviderFake, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    sink = await xoauth2_sink(smtp_server_factory, provider_fake)
    await configure(api, microsoft_settings(provider_fake, sink=sink, tls_ca_pem=tls_ca_pem))

    authorized = (await api.client.post("/api/v1/oauth/authorize")).json()
    query = query_of(authorized["authorization_url"])
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    assert query["state"] == authorized["state"] and query["redirect_uri"] == REDIRECT_URI
    scopes = query["scope"].split()
    assert {"https://outlook.office.com/SMTP.Send", "offline_access", "openid", "email"} <= set(scopes)

    page = await api.client.get(callback_path(await browse(authorized["authorization_url"])))
    assert page.status_code == 200, page.text
    assert messages.AUTHORIZATION_COMPLETE in page_text(page)

    status = (await api.client.get("/api/v1/oauth/status")).json()
    assert (status["state"], status["account"]) == ("valid", provider_fake.account)

    sent = await api.client.post("/api/v1/mail-settings/test-email")
    assert sent.status_code == 200, sent.text
    [received] = sink.messages
    assert received.tls and received.authenticated_as == provider_fake.account
    assert sink.auth_attempts == [AuthAttempt("XOAUTH2", provider_fake.account, success=True, tls=True)]


# --- refusals at the provider -------------------------------------------------------------------


async def test_redirect_uri_mismatch_fails_the_authorize_request_and_is_logged(
    api: Api, provider_fake: ProviderFake
) -> None:
    await configure(api, microsoft_settings(provider_fake))
    provider_fake.authorize_error("AADSTS50011")

    response = await api.client.post("/api/v1/oauth/authorize")

    assert response.status_code == 502, response.text
    body = response.json()
    assert body["message"] == messages.AUTHORIZATION_FAILED
    failure = body["failure"]
    assert (failure["provider_code"], failure["category"]) == ("AADSTS50011", "oauth")
    assert "Redirect URI" in failure["hint"]
    logs = await api.client.get("/api/v1/mail-server-logs", params={"category": "oauth"})
    [entry] = logs.json()["entries"]
    assert entry["id"] == body["log_entry_id"] and entry["provider_code"] == "AADSTS50011"
    snapshot = entry["settings_snapshot"]
    assert (snapshot["tenant_id"], snapshot["client_id"]) == (TENANT_ID, CLIENT_ID)
    assert snapshot["redirect_uri"] == REDIRECT_URI
    assert CLIENT_SECRET not in response.text + logs.text


@pytest.mark.parametrize("code", ["AADSTS7000215", "AADSTS7000222", "AADSTS50194"])
async def test_token_endpoint_refusal_at_the_code_exchange_shows_code_and_fix(
    api: Api, provider_fake: ProviderFake, code: str
) -> None:
    await configure(api, microsoft_settings(provider_fake))
    provider_fake.token_error(code)

    page = await sign_in(api)

    assert page.status_code == 502, page.text
    text = page_text(page)
    assert messages.AUTHORIZATION_FAILED in text
    assert code in text and OAUTH_HINTS[code] in text
    assert await oauth_state(api) == "not_authorized"


async def test_declined_consent_sent_back_to_the_redirect_uri_fails_the_callback(
    api: Api, provider_fake: ProviderFake
) -> None:
    await configure(api, microsoft_settings(provider_fake))
    authorized = (await api.client.post("/api/v1/oauth/authorize")).json()
    provider_fake.authorize_error("AADSTS65004")  # the user presses Cancel on the consent screen

    location = await browse(authorized["authorization_url"])
    page = await api.client.get(callback_path(location))

    assert query_of(location)["error"] == "access_denied"
    assert page.status_code == 502, page.text
    text = page_text(page)
    assert messages.AUTHORIZATION_FAILED in text and "AADSTS65004" in text
    assert await oauth_state(api) == "not_authorized"


# --- a refresh token that died ------------------------------------------------------------------

DEAD_REFRESH_TOKENS = [
    pytest.param("microsoft", "AADSTS700082", id="microsoft-inactivity"),
    pytest.param("microsoft", "AADSTS70043", id="microsoft-sign-in-frequency"),
    pytest.param("google", "invalid_grant", id="google-invalid-grant"),
]


@pytest.mark.parametrize(("provider", "code"), DEAD_REFRESH_TOKENS)
async def test_a_dead_refresh_token_requires_sign_in_and_is_not_tried_again(
    api: Api,
    provider_fake: ProviderFake,
    smtp_server_factory: SmtpServerFactory,
    tls_ca_pem: str,
    provider: str,
    code: str,
) -> None:
    sink = await xoauth2_sink(smtp_server_factory, provider_fake)
    settings_of = microsoft_settings if provider == "microsoft" else google_settings
    await configure(api, settings_of(provider_fake, sink=sink, tls_ca_pem=tls_ca_pem))
    provider_fake.expires_in = 1  # inside the refresh margin: the next send must refresh
    assert (await sign_in(api)).status_code == 200
    provider_fake.token_error(code)
    requests_before = len(provider_fake.token_requests)

    first = await api.client.post("/api/v1/mail-settings/test-email")

    assert first.status_code == 502, first.text
    assert len(provider_fake.token_requests) == requests_before + 1
    assert (first.json()["failure"]["category"], first.json()["failure"]["provider_code"]) == (
        "oauth_reauth",
        code,
    )
    assert await oauth_state(api) == "reauthorization_required"

    second = await api.client.post("/api/v1/mail-settings/test-email")

    assert second.status_code == 502, second.text
    assert (second.json()["failure"]["category"], second.json()["failure"]["provider_code"]) == (
        "oauth_reauth",
        code,
    )
    assert len(provider_fake.token_requests) == requests_before + 1  # the dead token was not tried
    logs = (await api.client.get("/api/v1/mail-server-logs", params={"category": "oauth_reauth"})).json()
    logged = {entry["id"] for entry in logs["entries"]}
    assert {first.json()["log_entry_id"], second.json()["log_entry_id"]} <= logged
    assert sink.messages == [] and sink.auth_attempts == []


# --- callbacks that cannot be trusted -----------------------------------------------------------


async def test_a_callback_with_an_unknown_state_is_refused(api: Api, provider_fake: ProviderFake) -> None:
    await configure(api, microsoft_settings(provider_fake))

    page = await api.client.get("/login/smtp-verification", params={"code": "0.Aabc", "state": "forged"})

    assert page.status_code == 400
    assert await oauth_state(api) == "not_authorized"


async def test_replaying_a_callback_is_refused_and_the_first_sign_in_stands(
    api: Api, provider_fake: ProviderFake
) -> None:
    await configure(api, microsoft_settings(provider_fake))
    path = callback_path(await start_sign_in(api))

    first = await api.client.get(path)
    replayed = await api.client.get(path)

    assert (first.status_code, replayed.status_code) == (200, 400)
    pending = await api.container.oauth_sign_in.progress(query_of(path)["state"])
    assert pending is not None and pending.status == "succeeded"
    assert await oauth_state(api) == "valid"


async def test_another_administrator_cannot_finish_a_sign_in_they_did_not_start(
    api: Api, provider_fake: ProviderFake
) -> None:
    await configure(api, microsoft_settings(provider_fake))
    location = await start_sign_in(api)
    await api.container.administrators.create("second", email="second@example.com", password="x" * 16)
    _, second_token = await api.container.administrators.create_token("second", administrator="second")

    refused = await api.client.post(
        "/api/v1/oauth/callback",
        json={"url": location},
        headers={"Authorization": f"Bearer {second_token}"},
    )
    finished = await api.client.post("/api/v1/oauth/callback", json={"url": location})

    assert refused.status_code == 400, refused.text
    assert finished.status_code == 200, finished.text
    assert finished.json()["message"] == messages.AUTHORIZATION_COMPLETE


async def test_an_expired_sign_in_is_refused(
    api: Api, provider_fake: ProviderFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    await configure(api, microsoft_settings(provider_fake))
    path = callback_path(await start_sign_in(api))
    later = utc_now() + timedelta(minutes=11)
    monkeypatch.setattr(api.container.oauth_sign_in, "_clock", lambda: later)

    page = await api.client.get(path)

    assert page.status_code == 400
    assert await oauth_state(api) == "not_authorized"


async def test_a_wrong_pkce_verifier_is_refused_by_the_provider(provider_fake: ProviderFake) -> None:
    settings = apply_update(MailSettings.unconfigured(), microsoft_settings(provider_fake))
    client = HttpOAuthClient(timeout=10)
    url = client.authorization_url(
        settings, redirect_uri=REDIRECT_URI, state="state-1", code_verifier="v" * 64
    )
    code = query_of(await browse(url))["code"]

    with pytest.raises(OAuthError) as refused:
        await client.exchange_code(settings, code=code, code_verifier="w" * 64, redirect_uri=REDIRECT_URI)

    assert refused.value.provider_code == "AADSTS501481"
    assert classify(refused.value).category == "oauth"


# --- signed in, with a warning ------------------------------------------------------------------


async def test_signing_in_with_another_account_warns_of_send_as_denied(
    api: Api, provider_fake: ProviderFake
) -> None:
    await configure(api, microsoft_settings(provider_fake))
    provider_fake.account = "someone.else@contoso.com"

    response = await api.client.post("/api/v1/oauth/callback", json={"url": await start_sign_in(api)})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["succeeded"] and body["account"] == "someone.else@contoso.com"
    assert "SendAsDenied" in body["warning"]


async def test_no_refresh_token_without_offline_access_is_a_warning(
    api: Api, provider_fake: ProviderFake
) -> None:
    await configure(api, microsoft_settings(provider_fake, scopes="https://outlook.office.com/SMTP.Send"))

    response = await api.client.post("/api/v1/oauth/callback", json={"url": await start_sign_in(api)})

    assert response.status_code == 200, response.text
    assert response.json()["succeeded"] and "offline_access" in response.json()["warning"]


# --- app-only (client credentials) --------------------------------------------------------------


async def test_microsoft_app_only_is_verified_with_the_default_scope(
    api: Api, provider_fake: ProviderFake
) -> None:
    provider_fake.client_secret = CLIENT_SECRET
    await configure(api, microsoft_settings(provider_fake, oauth_grant="client_credentials"))

    verified = await api.client.post("/api/v1/oauth/verify")

    assert verified.status_code == 200, verified.text
    assert verified.json()["message"] == messages.AUTHORIZATION_COMPLETE
    form = provider_fake.token_requests[-1].form
    assert (form["grant_type"], form["scope"]) == (
        "client_credentials",
        "https://outlook.office365.com/.default",
    )


async def test_app_only_has_no_sign_in(api: Api, provider_fake: ProviderFake) -> None:
    await configure(api, microsoft_settings(provider_fake, oauth_grant="client_credentials"))

    response = await api.client.post("/api/v1/oauth/authorize")

    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["oauth_grant"]


async def test_google_refuses_app_only(api: Api, provider_fake: ProviderFake) -> None:
    changes = google_settings(provider_fake, oauth_grant="client_credentials")

    response = await api.client.patch("/api/v1/mail-settings", json=changes)

    assert response.status_code == 422, response.text
    assert "oauth_grant" in [error["field"] for error in response.json()["errors"]]
