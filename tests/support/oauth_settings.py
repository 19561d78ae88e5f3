"""OAuth2 mail settings pointing at the provider fake, and the browser's part of a sign-in.

`microsoft_settings(fake, ...)` and `google_settings(fake, ...)` are the fields an administrator
saves (a PATCH body, or `container.settings.save(...)`): both endpoints at the fake, the redirect
URI on the API client's host, the mailbox `fake.account`. `browse(url)` is the administrator's
browser at the provider: it returns the address the provider sends it back to, which
`callback_path(...)` turns into the request for alertmail's callback.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from alertmail.adapters.secret_box import FernetSecretBox
from alertmail.adapters.storage.oauth_repositories import SqlOAuthTokenRepository
from alertmail.composition import Container
from alertmail.domain.settings import MailSettings
from tests.support.oauth_server import LOGIN, OAuthClientRegistration, OAuthServer
from tests.support.provider_fakes import TENANT_ID, ProviderFake
from tests.support.smtp import HOST, SmtpSink

__all__ = [
    "ADMIN_SIGNING_IN",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "REDIRECT_URI",
    "TENANT_ID",
    "browse",
    "callback_path",
    "google_settings",
    "microsoft_app_only_at",
    "microsoft_settings",
    "query_of",
    "signed_in",
    "token_repository",
]

CLIENT_ID = "6731de76-14a6-49ae-97bc-6eba6914391e"
CLIENT_SECRET = "Qx8~cLiEnT.SeCrEt-VaLuE_7f3a9b2e"  # distinctive, so a leak is easy to find
REDIRECT_URI = "http://alertmail.test/login/smtp-verification"
ADMIN_SIGNING_IN = "admin"


def _relay(sink: SmtpSink | None, tls_ca_pem: str) -> dict[str, Any]:
    relay: dict[str, Any] = {
        "hostname": HOST,
        "port": sink.port if sink is not None else 587,
        "encryption": "starttls",
        "connect_timeout": 5,
    }
    return relay | ({"tls_trusted_ca": tls_ca_pem} if tls_ca_pem else {})


def microsoft_settings(
    fake: ProviderFake, *, sink: SmtpSink | None = None, tls_ca_pem: str = "", **changes: Any
) -> dict[str, Any]:
    """Microsoft 365 through the fake. The endpoints are always set together with the tenant,
    since for Microsoft they otherwise follow the tenant to login.microsoftonline.com."""
    fields: dict[str, Any] = {
        "from_address": fake.account,
        "auth_type": "oauth2",
        "oauth_provider": "microsoft",
        "tenant_id": TENANT_ID,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "authorization_endpoint": fake.microsoft_authorize(),
        "token_endpoint": fake.microsoft_token(),
        "redirect_uri": REDIRECT_URI,
        "username": fake.account,
    }
    return _relay(sink, tls_ca_pem) | fields | changes


async def microsoft_app_only_at(server: OAuthServer, sink: SmtpSink, roles: list[str]) -> dict[str, Any]:
    """Microsoft app-only settings whose token endpoint is the real local OAuth server, with a new
    client granted `roles`: its tokens are JWTs for https://outlook.office365.com carrying them."""
    client = await server.register_client(
        [], grant_types=["client_credentials"], roles=roles, auth_method="client_secret_post"
    )
    return {
        "from_address": "relay@contoso.com",
        "hostname": sink.host,
        "port": sink.port,
        "auth_type": "oauth2",
        "oauth_provider": "microsoft",
        "oauth_grant": "client_credentials",
        "tenant_id": TENANT_ID,
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "authorization_endpoint": server.authorization_endpoint,
        "token_endpoint": server.token_endpoint,
        "username": "relay@contoso.com",
    }


def google_settings(
    fake: ProviderFake, *, sink: SmtpSink | None = None, tls_ca_pem: str = "", **changes: Any
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "from_address": fake.account,
        "auth_type": "oauth2",
        "oauth_provider": "google",
        "client_id": "1234567890-alertmail.apps.googleusercontent.com",
        "client_secret": CLIENT_SECRET,
        "authorization_endpoint": fake.google_authorize,
        "token_endpoint": fake.google_token,
        "redirect_uri": REDIRECT_URI,
        "username": fake.account,
    }
    return _relay(sink, tls_ca_pem) | fields | changes


async def browse(authorization_url: str) -> str:
    """The browser at the provider: the address it is redirected to (alertmail's callback)."""
    async with httpx.AsyncClient(timeout=10) as browser:
        response = await browser.get(authorization_url, follow_redirects=False)
    assert response.is_redirect, f"the provider answered {response.status_code}, not a redirect"
    return response.headers["location"]


def callback_path(location: str) -> str:
    """The path and query of the callback address, for the API client on alertmail.test."""
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT_URI, location
    return f"{parts.path}?{parts.query}"


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


async def signed_in(container: Container, changes: dict[str, Any]) -> MailSettings:
    """Save `changes` and sign in through the sign-in service; the settings now in force."""
    await container.settings.save(changes, actor=ADMIN_SIGNING_IN)
    request = await container.oauth_sign_in.begin(ADMIN_SIGNING_IN)
    location = await browse(request.authorization_url)
    outcome = await container.oauth_sign_in.complete_from_url(location, administrator=ADMIN_SIGNING_IN)
    assert outcome.succeeded, outcome.reason
    return (await container.settings.current()).settings


def token_repository(container: Container) -> SqlOAuthTokenRepository:
    """The token repository over the container's database and key: to read or age stored tokens."""
    box = FernetSecretBox.from_key_file(container.config.resolved_secret_key_file)
    return SqlOAuthTokenRepository(container.database.sessionmaker, box, dialect=container.database.dialect)


def device_settings(
    server: OAuthServer, client: OAuthClientRegistration, sink: SmtpSink, pem: str
) -> dict[str, Any]:
    """A custom provider (the tests' oidc-provider) that signs in with a code, relaying over STARTTLS."""
    return {
        "from_address": LOGIN,
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
        "device_authorization_endpoint": server.device_authorization_endpoint,
        "scopes": "openid offline_access email smtp.send",
        "redirect_uri": REDIRECT_URI,
        "username": LOGIN,
    }
