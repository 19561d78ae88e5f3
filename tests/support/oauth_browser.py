"""An OAuth2 sign-in in the browser, up to the Sign In button: the steps the browser tests share.

The `oauth_sign_in` fixture's `ready(...)` registers a client at the local authorization server,
starts an XOAUTH2 relay, signs the administrator in to alertmail and saves custom OAuth2 settings
with the Redirect URI the test chooses. `sign_in_at_the_provider(page)` is the provider's own login
and consent forms.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from playwright.async_api import Page, expect

from alertmail.domain import messages
from tests.support.browser import LiveApp, sign_in
from tests.support.oauth_server import LOGIN, OAuthClientRegistration, OAuthServer, relay_for
from tests.support.smtp import SmtpServerFactory, SmtpSink

__all__ = ["OAuthReady", "OAuthSignIn", "oauth_sign_in", "save_oauth_settings", "sign_in_at_the_provider"]


@dataclass(frozen=True)
class OAuthReady:
    client: OAuthClientRegistration
    relay: SmtpSink


@dataclass(frozen=True)
class OAuthSignIn:
    """What a browser test of an OAuth2 sign-in starts from: the page, the app, the provider, relays."""

    page: Page
    live_app: LiveApp
    provider: OAuthServer
    relays: SmtpServerFactory
    pem: str  # the test CA, which the relay's certificate is signed by

    async def ready(self, *, registered: str, typed: str) -> OAuthReady:
        """The provider knows a client whose redirect URI is `registered`; an XOAUTH2 relay runs; the
        administrator is signed in and Mail Settings are saved with `typed` in Redirect URI ("" leaves
        the one the page derives and shows)."""
        client = await self.provider.register_client([registered])
        relay, _ = await relay_for(self.relays, self.provider)
        await sign_in(self.page, self.live_app)
        await save_oauth_settings(self.page, self.provider, client, relay, self.pem, typed)
        return OAuthReady(client, relay)


@pytest.fixture
def oauth_sign_in(
    page: Page,
    live_app: LiveApp,
    oauth_server: OAuthServer,
    smtp_server_factory: SmtpServerFactory,
    tls_ca_pem: str,
) -> OAuthSignIn:
    return OAuthSignIn(page, live_app, oauth_server, smtp_server_factory, tls_ca_pem)


async def save_oauth_settings(
    page: Page, server: OAuthServer, client: OAuthClientRegistration, sink: SmtpSink, pem: str, redirect: str
) -> None:
    await page.get_by_label("From Address").fill(LOGIN)
    await page.get_by_label("E-mail Authentication Type").select_option("oauth2")
    await page.get_by_label("E-mail Provider").select_option("custom")
    await page.get_by_label("Hostname (SMTP Relay Server)").fill("127.0.0.1")
    await page.get_by_label("SMTP Port").fill(str(sink.port))
    await page.get_by_label("SMTP Encryption").select_option("starttls")
    await page.get_by_label("Username").fill(LOGIN)
    await page.get_by_label("Application (Client) ID").fill(client.client_id)
    await page.locator("#f-client_secret").fill(client.client_secret)
    await page.get_by_label("Scopes").fill("openid offline_access email smtp.send")
    await page.get_by_label("Authentication Endpoint").fill(server.authorization_endpoint)
    await page.get_by_label("Token Endpoint").fill(server.token_endpoint)
    await page.get_by_label("Redirect URI").fill(redirect)
    await page.get_by_text("Advanced").click()
    await page.get_by_label("Trusted CA certificates (PEM)").fill(pem)
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_text(messages.CHANGES_SAVED)).to_be_visible()


async def sign_in_at_the_provider(page: Page) -> None:
    """The provider's own pages: its login form (any password), then its consent form."""
    await page.locator("input[name=login]").fill(LOGIN)
    await page.locator("input[name=password]").fill("any password")
    await page.locator("button[type=submit]").click()
    await page.locator("button[type=submit]").click()  # consent
