"""The provider fake answers like Microsoft's and Google's endpoints: checked with plain httpx."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from alertmail.domain.oauth import id_token_claims
from tests.support.provider_fakes import MICROSOFT_ERRORS, ProviderFake

CLIENT_ID = "6731de76-14a6-49ae-97bc-6eba6914391e"
CLIENT_SECRET = "client-secret-value"
REDIRECT_URI = "http://127.0.0.1:8080/oauth/callback"
EXPIRED = "Token has been expired or revoked."
NOT_FOUND = "The OAuth client was not found."
SMTP_SCOPE = "https://outlook.office.com/SMTP.Send offline_access openid email"
TRACE = re.compile(
    r"^AADSTS(?P<code>\d+): .+\r\nTrace ID: (?P<trace>[0-9a-f-]{36})"
    r"\r\nCorrelation ID: (?P<corr>[0-9a-f-]{36})"
    r"\r\nTimestamp: (?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ)$",
    re.DOTALL,
)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as opened:
        yield opened


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(response: httpx.Response) -> dict[str, str]:
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


async def authorize(
    client: httpx.AsyncClient, url: str, challenge: str | None, **extra: str
) -> httpx.Response:
    params = {"client_id": CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT_URI}
    params |= {"scope": SMTP_SCOPE, "state": "state-1", **extra}
    if challenge is not None:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return await client.get(url, params=params)


async def sign_in(client: httpx.AsyncClient, url: str, **extra: str) -> tuple[str, str]:
    verifier, challenge = pkce()
    response = await authorize(client, url, challenge, **extra)
    assert response.status_code == 302
    return query_of(response)["code"], verifier


async def redeem(client: httpx.AsyncClient, url: str, code: str, verifier: str | None) -> httpx.Response:
    form = {"grant_type": "authorization_code", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    form |= {"code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        form["code_verifier"] = verifier
    return await client.post(url, data=form)


def assert_microsoft_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    body: dict[str, Any] = response.json()
    assert list(body) == [
        "error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"
    ]  # fmt: skip
    found = TRACE.match(body["error_description"])
    assert found, body["error_description"]
    assert (body["error"], f"AADSTS{found['code']}") == (MICROSOFT_ERRORS[code].error, code)
    assert body["error_codes"] == [int(found["code"])]
    assert (found["trace"], found["corr"], found["stamp"]) == (
        body["trace_id"], body["correlation_id"], body["timestamp"]
    )  # fmt: skip
    assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={found['code']}"
    return body


# --- Microsoft ----------------------------------------------------------------------------------


async def test_microsoft_sign_in_refresh_and_rotation(
    provider_fake: ProviderFake, client: httpx.AsyncClient
) -> None:
    provider_fake.account = "relay@contoso.com"
    response = await authorize(client, provider_fake.microsoft_authorize(), pkce()[1])
    assert set(query_of(response)) == {"code", "state", "session_state"}
    assert query_of(response)["state"] == "state-1"

    code, verifier = await sign_in(client, provider_fake.microsoft_authorize())
    response = await redeem(client, provider_fake.microsoft_token(), code, verifier)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == [
        "token_type", "scope", "expires_in", "ext_expires_in", "access_token", "refresh_token", "id_token"
    ]  # fmt: skip
    assert (body["token_type"], body["expires_in"], body["ext_expires_in"]) == ("Bearer", 3599, 3599)
    claims = id_token_claims(body["id_token"])
    assert claims["preferred_username"] == claims["email"] == "relay@contoso.com"
    assert claims["aud"] == CLIENT_ID
    assert claims["iss"] == f"https://login.microsoftonline.com/{claims['tid']}/v2.0"
    assert claims["oid"]

    form = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "refresh_token": body["refresh_token"]}
    refreshed = (await client.post(provider_fake.microsoft_token(), data=form)).json()
    assert refreshed["refresh_token"] != body["refresh_token"]
    assert refreshed["access_token"] != body["access_token"]

    sent = provider_fake.token_requests[0].form
    assert (sent["client_secret"], sent["code_verifier"]) == (CLIENT_SECRET, verifier)


async def test_microsoft_refresh_token_only_with_offline_access(
    provider_fake: ProviderFake, client: httpx.AsyncClient
) -> None:
    code, verifier = await sign_in(client, provider_fake.microsoft_authorize(), scope="openid email")
    body = (await redeem(client, provider_fake.microsoft_token(), code, verifier)).json()
    assert "refresh_token" not in body and "id_token" in body


async def test_microsoft_app_only_token(provider_fake: ProviderFake, client: httpx.AsyncClient) -> None:
    provider_fake.access_token = "app-only-token"
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    form["scope"] = "https://outlook.office365.com/.default"
    body = (await client.post(provider_fake.microsoft_token(), data=form)).json()
    assert body == {
        "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": "app-only-token"
    }  # fmt: skip


async def test_microsoft_code_is_good_once(provider_fake: ProviderFake, client: httpx.AsyncClient) -> None:
    code, verifier = await sign_in(client, provider_fake.microsoft_authorize())
    assert (await redeem(client, provider_fake.microsoft_token(), code, verifier)).status_code == 200
    again = await redeem(client, provider_fake.microsoft_token(), code, verifier)
    body = assert_microsoft_error(again, 400, "AADSTS54005")
    assert "OAuth2 Authorization code was already redeemed" in body["error_description"]


@pytest.mark.parametrize("verifier", [None, "not-the-verifier"])
async def test_microsoft_checks_the_code_verifier(
    provider_fake: ProviderFake, client: httpx.AsyncClient, verifier: str | None
) -> None:
    code, _ = await sign_in(client, provider_fake.microsoft_authorize())
    response = await redeem(client, provider_fake.microsoft_token(), code, verifier)
    body = assert_microsoft_error(response, 400, "AADSTS501481")
    assert body["error_description"].startswith(
        "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization "
        "request.\r\n"
    )


@pytest.mark.parametrize(
    ("scripted", "code", "status"),
    [(700082, "AADSTS700082", 400), ("AADSTS7000215", "AADSTS7000215", 401), ("70043", "AADSTS70043", 400)],
)
async def test_microsoft_scripted_token_error(
    provider_fake: ProviderFake, client: httpx.AsyncClient, scripted: int | str, code: str, status: int
) -> None:
    provider_fake.token_error(scripted)
    form = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "refresh_token": "whatever"}
    for _ in range(2):  # until cleared
        response = await client.post(provider_fake.microsoft_token(), data=form)
        assert_microsoft_error(response, status, code)
    provider_fake.token_error(None)
    response = await client.post(provider_fake.microsoft_token(), data=form)
    assert_microsoft_error(response, 400, "AADSTS9002313")  # the fake never issued "whatever"


async def test_microsoft_wrong_client_secret(provider_fake: ProviderFake, client: httpx.AsyncClient) -> None:
    provider_fake.client_secret = "the-right-one"
    code, verifier = await sign_in(client, provider_fake.microsoft_authorize())
    response = await redeem(client, provider_fake.microsoft_token(), code, verifier)
    body = assert_microsoft_error(response, 401, "AADSTS7000215")
    assert f"for a secret added to app '{CLIENT_ID}'." in body["error_description"]


async def test_microsoft_error_page_is_not_a_redirect(
    provider_fake: ProviderFake, client: httpx.AsyncClient
) -> None:
    provider_fake.redirect_uris = {"https://appliance.example/oauth/callback"}
    response = await authorize(client, provider_fake.microsoft_authorize(), pkce()[1])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert f"AADSTS50011: The redirect URI '{REDIRECT_URI}' specified in the request does not match" in page
    for line in ("Request Id: ", "Correlation Id: ", "Timestamp: "):
        assert re.search(rf"<div>{line}[0-9a-fT:.Z-]+</div>", page), line


async def test_microsoft_single_tenant_on_common(
    provider_fake: ProviderFake, client: httpx.AsyncClient
) -> None:
    provider_fake.single_tenant = True
    page = (await authorize(client, provider_fake.microsoft_authorize("common"), pkce()[1])).text
    assert f"AADSTS50194: Application '{CLIENT_ID}'(alertmail) is not configured as a multi-tenant" in page
    form = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "refresh_token": "x"}
    assert_microsoft_error(
        await client.post(provider_fake.microsoft_token("common"), data=form), 400, "AADSTS50194"
    )
    code, _ = await sign_in(client, provider_fake.microsoft_authorize())  # the tenant ID still works
    assert code


@pytest.mark.parametrize(
    ("code", "error"), [("AADSTS65004", "access_denied"), (50076, "interaction_required")]
)
async def test_microsoft_errors_sent_back_to_the_redirect_uri(
    provider_fake: ProviderFake, client: httpx.AsyncClient, code: str | int, error: str
) -> None:
    provider_fake.authorize_error(code)
    response = await authorize(client, provider_fake.microsoft_authorize(), pkce()[1])
    assert response.status_code == 302
    query = query_of(response)
    assert list(query) == ["error", "error_description", "error_uri", "state"]
    assert (query["error"], query["state"]) == (error, "state-1")
    assert TRACE.match(query["error_description"])


async def test_microsoft_requires_pkce(provider_fake: ProviderFake, client: httpx.AsyncClient) -> None:
    query = query_of(await authorize(client, provider_fake.microsoft_authorize(), None))
    assert query["error"] == "invalid_request"
    assert (
        "AADSTS900144: The request body must contain the following parameter: 'code_challenge'."
        in (query["error_description"])
    )


# --- Google -------------------------------------------------------------------------------------


async def test_google_sign_in_and_refresh(provider_fake: ProviderFake, client: httpx.AsyncClient) -> None:
    provider_fake.account = "alerts@example.org"
    scope = "https://mail.google.com/ openid email"
    code, verifier = await sign_in(client, provider_fake.google_authorize, scope=scope, access_type="offline")
    response = await redeem(client, provider_fake.google_token, code, verifier)
    body = response.json()
    assert list(body) == ["access_token", "expires_in", "refresh_token", "scope", "token_type", "id_token"]
    assert body["scope"] == "https://mail.google.com/ openid https://www.googleapis.com/auth/userinfo.email"
    claims = id_token_claims(body["id_token"])
    assert (claims["email"], claims["aud"], claims["iss"]) == (
        "alerts@example.org", CLIENT_ID, "https://accounts.google.com"
    )  # fmt: skip

    form = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "refresh_token": body["refresh_token"]}
    refreshed = (await client.post(provider_fake.google_token, data=form)).json()
    assert "refresh_token" not in refreshed  # Google does not rotate
    assert refreshed["access_token"] != body["access_token"]


@pytest.mark.parametrize(
    ("verifier", "description"),
    [(None, "Missing code verifier."), ("not-the-verifier", "Invalid code verifier.")],
)
async def test_google_checks_the_code_verifier(
    provider_fake: ProviderFake, client: httpx.AsyncClient, verifier: str | None, description: str
) -> None:
    code, _ = await sign_in(client, provider_fake.google_authorize)
    response = await redeem(client, provider_fake.google_token, code, verifier)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": description}


async def test_google_code_is_good_once(provider_fake: ProviderFake, client: httpx.AsyncClient) -> None:
    code, verifier = await sign_in(client, provider_fake.google_authorize)
    assert (await redeem(client, provider_fake.google_token, code, verifier)).status_code == 200
    again = await redeem(client, provider_fake.google_token, code, verifier)
    assert (again.status_code, again.json()) == (
        400, {"error": "invalid_grant", "error_description": "Bad Request"}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("key", "status", "body"),
    [
        ("invalid_grant", 400, {"error": "invalid_grant", "error_description": EXPIRED}),
        ("invalid_client", 401, {"error": "invalid_client", "error_description": NOT_FOUND}),
        ("unauthorized_client", 401, {"error": "unauthorized_client", "error_description": "Unauthorized"}),
    ],
)  # fmt: skip
async def test_google_scripted_token_error(
    provider_fake: ProviderFake, client: httpx.AsyncClient, key: str, status: int, body: dict[str, str]
) -> None:
    provider_fake.token_error(key)
    form = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "refresh_token": "1//0x"}
    response = await client.post(provider_fake.google_token, data=form)
    assert (response.status_code, response.json()) == (status, body)
    assert response.text == json.dumps(body, indent=2)


async def test_google_wrong_client_secret(provider_fake: ProviderFake, client: httpx.AsyncClient) -> None:
    provider_fake.client_secret = "the-right-one"
    code, verifier = await sign_in(client, provider_fake.google_authorize)
    response = await redeem(client, provider_fake.google_token, code, verifier)
    assert (response.status_code, response.json()) == (
        401, {"error": "invalid_client", "error_description": "Unauthorized"}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("key", "status"),
    [
        ("redirect_uri_mismatch", 400),
        ("deleted_client", 401),
        ("org_internal", 403),
        ("admin_policy_enforced", 400),
    ],
)
async def test_google_error_pages(
    provider_fake: ProviderFake, client: httpx.AsyncClient, key: str, status: int
) -> None:
    provider_fake.authorize_error(key)
    response = await authorize(client, provider_fake.google_authorize, pkce()[1])
    assert response.status_code == status
    assert f"<p>Error {status}: {key}</p>" in response.text


async def test_google_unregistered_redirect_uri(
    provider_fake: ProviderFake, client: httpx.AsyncClient
) -> None:
    provider_fake.redirect_uris = {"https://appliance.example/oauth/callback"}
    response = await authorize(client, provider_fake.google_authorize, pkce()[1])
    assert response.status_code == 400
    assert "Error 400: redirect_uri_mismatch" in response.text


async def test_google_access_denied(provider_fake: ProviderFake, client: httpx.AsyncClient) -> None:
    provider_fake.authorize_error("access_denied")
    response = await authorize(client, provider_fake.google_authorize, pkce()[1])
    assert response.status_code == 302
    assert response.headers["location"] == f"{REDIRECT_URI}?error=access_denied&state=state-1"


async def test_google_requires_pkce(provider_fake: ProviderFake, client: httpx.AsyncClient) -> None:
    response = await authorize(client, provider_fake.google_authorize, None)
    assert response.status_code == 400
    assert "Error 400: invalid_request" in response.text


# --- the fake itself ----------------------------------------------------------------------------


def test_scripting_an_unknown_error_fails_early() -> None:
    with pytest.raises(KeyError):
        ProviderFake().token_error("AADSTS1")


async def test_recorded_requests_keep_values_but_do_not_show_them(
    provider_fake: ProviderFake, client: httpx.AsyncClient
) -> None:
    code, verifier = await sign_in(client, provider_fake.microsoft_authorize())
    await redeem(client, provider_fake.microsoft_token(), code, verifier)
    recorded = provider_fake.token_requests[-1]
    assert recorded.form["client_secret"] == CLIENT_SECRET
    assert recorded.path == urlsplit(provider_fake.microsoft_token()).path
    assert CLIENT_SECRET not in repr(provider_fake.requests)
    assert verifier not in repr(provider_fake.requests)
