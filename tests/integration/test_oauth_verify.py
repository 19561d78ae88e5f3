"""Verify through the API: a token obtained as sending would, its claims checked, nothing sent.

Microsoft-shaped tokens come from the provider stand-in (`provider_tokens` lists the sources of
their claims) and, for app-only, from the real local OAuth server (oidc-provider issuing an RFC 9068
JWT for the `.default` resource, with the client's granted `roles`). The relay is a real aiosmtpd
server that must hear nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from alertmail.domain import messages
from tests.support.app import Api
from tests.support.leaks import find_leaks, needles_for
from tests.support.oauth_server import OAuthServer
from tests.support.oauth_settings import (
    CLIENT_ID,
    CLIENT_SECRET,
    TENANT_ID,
    browse,
    callback_path,
    google_settings,
    microsoft_app_only_at,
    microsoft_settings,
    token_repository,
)
from tests.support.provider_fakes import ProviderFake
from tests.support.smtp import SmtpSink


async def configure(api: Api, changes: dict[str, Any]) -> None:
    response = await api.client.patch("/api/v1/mail-settings", json=changes)
    assert response.status_code == 200, response.text


async def sign_in(api: Api) -> None:
    authorized = await api.client.post("/api/v1/oauth/authorize")
    assert authorized.status_code == 200, authorized.text
    page = await api.client.get(callback_path(await browse(authorized.json()["authorization_url"])))
    assert messages.AUTHORIZATION_COMPLETE in page.text


async def verify(api: Api, status: int) -> dict[str, Any]:
    response = await api.client.post("/api/v1/oauth/verify")
    assert response.status_code == status, response.text
    assert CLIENT_SECRET not in response.text
    body: dict[str, Any] = response.json()
    return body


async def oauth_log_entries(api: Api) -> list[dict[str, Any]]:
    logs = await api.client.get("/api/v1/mail-server-logs", params={"category": "oauth"})
    assert logs.status_code == 200, logs.text
    entries: list[dict[str, Any]] = logs.json()["entries"]
    return entries


def nothing_sent(sink: SmtpSink) -> bool:
    return sink.connections == 0 and not sink.messages and not sink.commands


# --- app-only: Application permissions in `roles` ---------------------------------------------------


async def test_app_only_without_smtp_send_as_app_is_reported_before_anything_is_sent(
    api: Api, provider_fake: ProviderFake, smtp_server: SmtpSink
) -> None:
    provider_fake.jwt_access_tokens = True
    provider_fake.app_roles = ["User.Read.All"]
    await configure(
        api, microsoft_settings(provider_fake, sink=smtp_server, oauth_grant="client_credentials")
    )

    body = await verify(api, 502)

    assert body["message"] == messages.AUTHORIZATION_FAILED and body["failure"] is None
    [finding] = body["findings"]
    assert finding["code"] == "missing_permission" and "SMTP.SendAsApp" in finding["message"]
    assert "Office 365 Exchange Online > Application permissions > SMTP.SendAsApp" in finding["fix"]
    assert body["claims"]["roles"] == ["User.Read.All"]
    assert body["claims"]["audiences"] == ["https://outlook.office365.com"]
    [entry] = await oauth_log_entries(api)
    assert entry["id"] == body["log_entry_id"] and entry["message"] == finding["message"]
    assert entry["hint"] == finding["fix"] and entry["context"] == "OAuth2 verify"
    assert entry["settings_snapshot"]["oauth_grant"] == "client_credentials"
    assert nothing_sent(smtp_server)


async def test_app_only_with_the_role_granted_passes(api: Api, provider_fake: ProviderFake) -> None:
    provider_fake.jwt_access_tokens = True
    provider_fake.app_roles = ["SMTP.SendAsApp"]
    await configure(api, microsoft_settings(provider_fake, oauth_grant="client_credentials"))

    body = await verify(api, 200)

    assert body["message"] == messages.AUTHORIZATION_COMPLETE and body["findings"] == []
    assert body["claims"]["tenant_id"] == TENANT_ID and body["resource"] == "Exchange Online (SMTP)"
    assert await oauth_log_entries(api) == []
    # A new token each time: a permission granted since the last one shows at once.
    assert provider_fake.token_requests[-1].form["grant_type"] == "client_credentials"


async def test_a_token_that_cannot_be_read_is_said_so_without_failing(
    api: Api, provider_fake: ProviderFake
) -> None:
    await configure(api, microsoft_settings(provider_fake, oauth_grant="client_credentials"))

    body = await verify(api, 200)  # Microsoft's opaque `EwB...` tokens: nothing to read

    assert [finding["code"] for finding in body["findings"]] == ["not_inspectable"]
    assert "cannot be inspected" in body["findings"][0]["message"] and body["claims"] is None


async def test_a_refused_client_secret_is_classified_like_a_sign_in(
    api: Api, provider_fake: ProviderFake
) -> None:
    provider_fake.client_secret = "another secret"
    await configure(api, microsoft_settings(provider_fake, oauth_grant="client_credentials"))

    body = await verify(api, 502)

    assert body["failure"]["provider_code"] == "AADSTS7000215" and body["findings"] == []
    [entry] = await oauth_log_entries(api)
    assert entry["provider_code"] == "AADSTS7000215" and entry["id"] == body["log_entry_id"]


# --- delegated: permissions in `scp` ---------------------------------------------------------------


async def test_a_delegated_token_without_smtp_send_is_reported(
    api: Api, provider_fake: ProviderFake, smtp_server: SmtpSink
) -> None:
    provider_fake.jwt_access_tokens = True
    provider_fake.consented_permissions = ["IMAP.AccessAsUser.All"]
    await configure(api, microsoft_settings(provider_fake, sink=smtp_server))
    await sign_in(api)

    response = await api.client.post("/api/v1/oauth/verify")
    body = response.json()

    [finding] = body["findings"]
    assert response.status_code == 502 and finding["code"] == "missing_permission"
    assert "Delegated permission SMTP.Send (in scp)" in finding["message"]
    assert body["claims"]["delegated"] == ["IMAP.AccessAsUser.All"]
    assert nothing_sent(smtp_server)
    # Claims, never the token: not in the answer, Mail Server Logs or the log file.
    stored = await token_repository(api.container).load()
    assert stored is not None
    logs = await api.client.get("/api/v1/mail-server-logs")
    haystacks = {
        "response": response.text,
        "logs": logs.text,
        "log file": api.container.config.mail_log_path.read_bytes(),
    }
    needles = needles_for({"access token": stored.access_token.get_secret_value(), "secret": CLIENT_SECRET})
    assert find_leaks(haystacks, needles) == []


async def test_a_delegated_token_for_another_resource_is_reported(
    api: Api, provider_fake: ProviderFake
) -> None:
    provider_fake.jwt_access_tokens = True
    await configure(api, microsoft_settings(provider_fake, scopes="Mail.Send offline_access"))
    await sign_in(api)

    body = await verify(api, 502)

    codes = [finding["code"] for finding in body["findings"]]
    assert codes == ["wrong_audience", "missing_permission"]
    assert "https://graph.microsoft.com" in body["findings"][0]["message"]


async def test_a_signed_in_delegated_token_with_smtp_send_passes(
    api: Api, provider_fake: ProviderFake
) -> None:
    provider_fake.jwt_access_tokens = True
    await configure(api, microsoft_settings(provider_fake))
    await sign_in(api)

    body = await verify(api, 200)

    assert body["claims"]["delegated"] == ["SMTP.Send"]
    assert body["claims"]["audiences"] == ["https://outlook.office.com"]


async def test_verify_before_any_sign_in_says_to_sign_in(api: Api, provider_fake: ProviderFake) -> None:
    await configure(api, microsoft_settings(provider_fake))

    body = await verify(api, 502)

    assert body["failure"]["category"] == "oauth" and "sign" in body["failure"]["hint"].lower()


# --- Microsoft Graph (E-mail Type `graph`): Mail.Send in `roles` -----------------------------------


@pytest.mark.parametrize(("roles", "status"), [([], 502), (["Mail.Send"], 200)])
async def test_graph_app_only_needs_mail_send_in_roles_before_anything_is_sent(
    api: Api, provider_fake: ProviderFake, roles: list[str], status: int
) -> None:
    provider_fake.jwt_access_tokens = True
    provider_fake.app_roles = roles
    graph = {
        "from_address": provider_fake.account,
        "email_type": "graph",
        "auth_type": "oauth2",
        "oauth_provider": "microsoft",
        "oauth_grant": "client_credentials",
        "tenant_id": TENANT_ID,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scopes": "https://graph.microsoft.com/.default",
        "token_endpoint": provider_fake.microsoft_token(),
        "graph_endpoint": "https://graph.microsoft.com",  # never reached: Verify sends nothing
        "username": provider_fake.account,
    }
    await configure(api, graph)

    body = await verify(api, status)

    assert body["resource"] == "Microsoft Graph"
    assert body["claims"]["audiences"] == ["https://graph.microsoft.com"]
    codes = [finding["code"] for finding in body["findings"]]
    assert codes == ([] if roles else ["missing_permission"])
    if not roles:
        assert "Microsoft Graph > Application permissions > Mail.Send" in body["findings"][0]["fix"]
    assert [request.path for request in provider_fake.requests] == [f"/{TENANT_ID}/oauth2/v2.0/token"]


# --- Google: opaque tokens, read through its token-info endpoint ----------------------------------------


async def test_google_tokens_are_checked_through_token_info(api: Api, provider_fake: ProviderFake) -> None:
    await configure(api, google_settings(provider_fake))
    await sign_in(api)

    body = await verify(api, 200)

    assert body["claims"]["source"] == "google_token_info"
    assert "https://mail.google.com/" in body["claims"]["delegated"]
    [info] = [request for request in provider_fake.requests if request.path == "/tokeninfo"]
    # The token as a Bearer credential, never in the URL (which HTTP clients log).
    assert info.method == "POST" and info.query == {}
    assert info.headers["authorization"].startswith("Bearer ya29.")


async def test_a_google_token_without_the_mail_scope_is_reported(
    api: Api, provider_fake: ProviderFake
) -> None:
    await configure(api, google_settings(provider_fake, scopes="https://www.googleapis.com/auth/gmail.send"))
    await sign_in(api)

    body = await verify(api, 502)

    [finding] = body["findings"]
    assert finding["code"] == "missing_permission" and "https://mail.google.com/" in finding["message"]


async def test_a_token_google_no_longer_knows_is_reported_and_logged(
    api: Api, provider_fake: ProviderFake
) -> None:
    await configure(api, google_settings(provider_fake))
    await sign_in(api)
    provider_fake.revoke_access_tokens()

    body = await verify(api, 502)

    [finding] = body["findings"]
    assert finding["code"] == "token_refused" and "invalid_token" in finding["message"]
    [entry] = await oauth_log_entries(api)
    assert entry["hint"] == finding["fix"] and entry["context"] == "OAuth2 verify"


# --- the real OAuth server: an RFC 9068 JWT with the client's granted roles -------------------------------


@pytest.mark.parametrize(("roles", "status"), [([], 502), (["SMTP.SendAsApp"], 200)])
async def test_the_real_oauth_server_token_is_checked_for_its_roles(
    api: Api, oauth_server: OAuthServer, smtp_server: SmtpSink, roles: list[str], status: int
) -> None:
    await configure(api, await microsoft_app_only_at(oauth_server, smtp_server, roles))

    body = await verify(api, status)

    assert body["claims"]["source"] == "jwt" and body["claims"]["roles"] == roles
    assert body["claims"]["audiences"] == ["https://outlook.office365.com"]
    expected = [] if roles else ["missing_permission"]
    assert [finding["code"] for finding in body["findings"]] == expected
    assert nothing_sent(smtp_server)


# --- refusals -------------------------------------------------------------------------------------------


async def test_verify_without_oauth_settings_names_the_field(api: Api) -> None:
    response = await api.client.post("/api/v1/oauth/verify")

    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["auth_type"]
