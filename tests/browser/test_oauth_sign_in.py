"""OAuth2 from the browser against the local authorization server (oidc-provider): the E-mail
Authorization Required notice, Sign In through the provider's own pages back to the callback, the
token health panel, the re-authorization banner, and a redirect URI mismatch with its reason."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from alertmail.domain import messages
from alertmail.errors import OAuthError
from tests.support.browser import ADMIN_EMAIL, LiveApp, screenshot
from tests.support.leaks import find_leaks, needles_for
from tests.support.oauth_browser import OAuthSignIn, sign_in_at_the_provider
from tests.support.oauth_server import LOGIN, OAuthServer
from tests.support.oauth_settings import token_repository

UNREGISTERED = "http://127.0.0.1:9/login/smtp-verification"


async def test_sign_in_through_the_provider_completes_and_shows_the_token_health(
    page: Page, live_app: LiveApp, oauth_server: OAuthServer, oauth_sign_in: OAuthSignIn
) -> None:
    redirect = live_app.url + "/login/smtp-verification"
    ready = await oauth_sign_in.ready(registered=redirect, typed=redirect)
    client, sink = ready.client, ready.relay
    pages = {"settings": await page.content()}

    notice = page.get_by_role("region", name="E-mail Authorization Required")
    await expect(notice).to_be_visible()
    await expect(page.locator("#redirect-warning")).to_have_count(0)  # it points at this server
    await screenshot(page, "oauth-authorization-required")
    await notice.get_by_role("button", name="Sign In").click()

    await expect(page).to_have_url(re.compile("^" + re.escape(oauth_server.issuer)))
    await sign_in_at_the_provider(page)
    await expect(page).to_have_url(re.compile("^" + re.escape(redirect)))
    await expect(page.locator("#outcome-message")).to_have_text(messages.AUTHORIZATION_COMPLETE)
    await expect(page.get_by_text(f"Signed in as {LOGIN}")).to_be_visible()
    await screenshot(page, "oauth-authorization-complete")
    pages["callback"] = await page.content()

    await page.get_by_role("link", name="Back to Mail Settings").click()
    health = page.get_by_role("region", name="OAuth token health")
    await expect(health).to_contain_text("Authorized")
    await expect(health).to_contain_text(LOGIN)
    await expect(page.get_by_role("region", name="E-mail Authorization Required")).to_have_count(0)
    await page.get_by_role("button", name="Send test e-mail").click()
    await expect(page.locator("#test-email-result")).to_contain_text(messages.test_email_sent(ADMIN_EMAIL))
    assert [m.authenticated_as for m in sink.messages] == [LOGIN]
    await screenshot(page, "oauth-token-health")
    pages["settings signed in"] = await page.content()

    # The provider revokes the sign-in: the next refresh says so, and every page asks to sign in again.
    container = live_app.container
    tokens = await token_repository(container).load()
    assert tokens is not None and tokens.refresh_token is not None
    await oauth_server.revoke(tokens.refresh_token.get_secret_value(), client)
    with pytest.raises(OAuthError):
        await container.oauth_tokens.refresh((await container.settings.current()).settings)
    for path in ("/mail-settings", "/administrators", "/mail-settings/logs"):
        await page.goto(live_app.url + path)
        banner = page.get_by_role("alert").filter(has_text="E-mail authorization must be renewed")
        await expect(banner).to_be_visible()
        await expect(banner.get_by_role("button", name="Sign In again")).to_be_visible()
    await screenshot(page, "oauth-reauthorization-banner")
    pages["logs with banner"] = await page.content()

    secrets = {
        "client secret": client.client_secret,
        "refresh token": tokens.refresh_token.get_secret_value(),
    }
    assert find_leaks(pages, needles_for(secrets, username=LOGIN)) == []


async def test_a_redirect_uri_the_provider_does_not_know_fails_with_the_reason(
    page: Page, live_app: LiveApp, oauth_sign_in: OAuthSignIn
) -> None:
    # Registered at the provider: an address nobody serves; typed in: this server's callback.
    callback = live_app.url + "/login/smtp-verification"
    ready = await oauth_sign_in.ready(registered=UNREGISTERED, typed=callback)
    client = ready.client
    await page.locator(".settings-form").get_by_role("button", name="Sign In", exact=True).click()

    # Post/Redirect/Get: the outcome is told on Mail Settings, which a refresh only reloads.
    await expect(page).to_have_url(live_app.url + "/mail-settings")
    await expect(page.get_by_text(messages.AUTHORIZATION_FAILED)).to_be_visible()
    reason = page.locator(".reason")
    await expect(reason).to_contain_text("oauth")
    await expect(reason).to_contain_text(re.compile("redirect", re.IGNORECASE))
    await expect(reason.get_by_text("Fix")).to_be_visible()
    await screenshot(page, "oauth-redirect-mismatch")
    logged = len(await live_app.container.mail_logs.list(limit=100))
    await page.reload()  # a GET: the provider is not asked again, nothing more is logged
    assert len(await live_app.container.mail_logs.list(limit=100)) == logged == 1
    assert (
        find_leaks({"failure page": await page.content()}, needles_for({"secret": client.client_secret}))
        == []
    )

    await page.get_by_role("link", name="Mail Server Logs").click()
    await expect(page.locator("tr.entry").first).to_contain_text("oauth")
    await expect(page.locator("tr.entry td").first).to_have_text("OAuth")


async def test_a_redirect_uri_elsewhere_is_warned_about(
    page: Page, live_app: LiveApp, oauth_sign_in: OAuthSignIn
) -> None:
    await oauth_sign_in.ready(registered=UNREGISTERED, typed=UNREGISTERED)
    warning = page.locator("#redirect-warning")
    await expect(warning).to_contain_text("does not point at this server")
    await expect(warning).to_contain_text(live_app.url + "/login/smtp-verification")
    await screenshot(page, "oauth-redirect-warning")
