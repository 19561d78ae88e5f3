"""The administrator's path through Mail Settings without a stumble (issue #17): intranet addresses,
Sign In with the Redirect URI the page shows, Post/Redirect/Get, every error at once, a test e-mail
of the values on the screen, and provider presets that fill editable values and clear each other."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, expect

from alertmail.domain import messages
from tests.support.browser import ADMIN_EMAIL, LiveApp, screenshot, sign_in
from tests.support.oauth_browser import OAuthSignIn, sign_in_at_the_provider
from tests.support.smtp import SmtpServerFactory, SmtpSink

INTRANET_CONTACTS = "ops@corp.internal nas@home.arpa relay@example.test printer@office.lan"


async def save(page: Page) -> None:
    await page.get_by_role("button", name="Save", exact=True).click()


async def fill_plain_relay(page: Page, sink: SmtpSink, from_address: str = "alice@appliance.local") -> None:
    await page.get_by_label("From Address").fill(from_address)
    await page.get_by_label("E-mail Authentication Type").select_option("none")
    await page.get_by_label("Hostname (SMTP Relay Server)").fill("127.0.0.1")
    await page.get_by_label("SMTP Port").fill(str(sink.port))
    await page.get_by_label("SMTP Encryption").select_option("none")


async def test_intranet_domains_are_accepted_and_only_invalid_ones_refused(
    page: Page, live_app: LiveApp, smtp_server_factory: SmtpServerFactory
) -> None:
    sink = await smtp_server_factory()
    await sign_in(page, live_app)
    await fill_plain_relay(page, sink)
    await page.get_by_label("Default Admin Contact Email Addresses").fill(INTRANET_CONTACTS)
    await save(page)
    await expect(page.get_by_text(messages.CHANGES_SAVED)).to_be_visible()
    await screenshot(page, "admin-path-1-intranet-addresses-saved")
    stored = (await live_app.container.settings.current()).settings
    assert stored.from_address == "alice@appliance.local"
    assert stored.admin_contacts == INTRANET_CONTACTS.split()

    await page.get_by_label("Default Admin Contact Email Addresses").fill(
        "ops@corp.internal alerts@x.invalid"
    )
    await save(page)
    error = page.locator("#f-admin_contacts-error")
    await expect(error).to_contain_text("'alerts@x.invalid'")
    await expect(error).to_contain_text("never receives e-mail")
    await screenshot(page, "admin-path-1-invalid-domain-refused")


async def test_sign_in_works_with_the_redirect_uri_the_page_shows_by_default(
    page: Page, live_app: LiveApp, oauth_sign_in: OAuthSignIn
) -> None:
    shown = live_app.url + "/login/smtp-verification"
    await oauth_sign_in.ready(registered=shown, typed="")
    await expect(page.locator("#f-redirect_uri-hint")).to_contain_text(shown)
    assert (await live_app.container.settings.current()).settings.redirect_uri == ""

    await page.locator(".settings-form").get_by_role("button", name="Sign In", exact=True).click()
    await sign_in_at_the_provider(page)
    await expect(page.locator("#outcome-message")).to_have_text(messages.AUTHORIZATION_COMPLETE)
    await screenshot(page, "admin-path-2-sign-in-with-default-redirect-uri")


async def test_a_sign_in_that_cannot_start_says_why_and_claims_no_save(page: Page, live_app: LiveApp) -> None:
    await sign_in(page, live_app)
    await page.get_by_label("E-mail Authentication Type").select_option("oauth2")
    await page.locator(".settings-form").get_by_role("button", name="Sign In", exact=True).click()
    summary = page.locator(".error-summary")
    await expect(summary).to_contain_text("Sign In cannot start")
    await expect(summary).to_contain_text("E-mail Authentication Type")
    await expect(page.get_by_text("Nothing was saved")).to_have_count(0)
    await expect(page.get_by_text(messages.CHANGES_SAVED)).to_have_count(0)
    await screenshot(page, "admin-path-2-sign-in-cannot-start")


async def test_refreshing_after_save_repeats_neither_the_save_nor_the_test_email(
    page: Page, live_app: LiveApp, smtp_server_factory: SmtpServerFactory
) -> None:
    sink = await smtp_server_factory()
    await sign_in(page, live_app)
    await fill_plain_relay(page, sink)
    await page.get_by_label("Send a test email when the settings are saved").check()
    await save(page)
    await expect(page.get_by_text(messages.CHANGES_SAVED)).to_be_visible()
    await expect(page.get_by_text(messages.test_email_sent(ADMIN_EMAIL))).to_be_visible()
    assert page.url == live_app.url + "/mail-settings"  # redirected: the page is a GET
    version = (await live_app.container.settings.current()).version
    assert len(sink.messages) == 1

    await page.reload()
    await expect(page.get_by_role("heading", name="Mail Settings", exact=True)).to_be_visible()
    await expect(page.get_by_text(messages.CHANGES_SAVED)).to_have_count(0)  # shown once only
    await screenshot(page, "admin-path-6-after-refresh")
    assert (await live_app.container.settings.current()).version == version
    assert len(sink.messages) == 1


async def test_every_field_error_is_told_at_once_with_the_form_names(page: Page, live_app: LiveApp) -> None:
    await sign_in(page, live_app)
    await page.get_by_label("From Address").fill("not an address")
    await page.get_by_label("E-mail Authentication Type").select_option("basic")
    await page.get_by_label("Hostname (SMTP Relay Server)").fill("")
    await save(page)
    summary = page.locator(".error-summary")
    for label in ("From Address", "Hostname (SMTP Relay Server)", "Username", "Password"):
        await expect(summary.get_by_role("link", name=label, exact=True)).to_be_visible()
    await expect(summary).not_to_contain_text("from_address")
    await screenshot(page, "admin-path-4-settings-errors-at-once")

    await page.goto(live_app.url + "/administrators")
    await page.locator("#f-username").fill("-bad name")
    await page.locator("#f-email").fill("nobody@x.invalid")
    await page.locator("#f-password").fill("short")
    await page.locator("#f-password_confirm").fill("other")
    await page.get_by_role("button", name="Add administrator").click()
    for field in ("username", "email", "password", "password_confirm"):
        await expect(page.locator(f"#f-{field}-error")).to_be_visible()
    await screenshot(page, "admin-path-4-administrator-errors-at-once")

    await page.get_by_label("Current password").fill("not my password")
    await page.get_by_label("New password", exact=True).fill("short")
    await page.get_by_label("New password again").fill("other")
    await page.get_by_role("button", name="Change password").click()
    for field in ("current_password", "new_password", "new_password_confirm"):
        await expect(page.locator(f"#f-{field}-error")).to_be_visible()


@pytest.fixture
async def silent_relay() -> AsyncIterator[int]:
    """A TCP port that accepts and never greets: a test e-mail to it waits for the timeout."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


async def test_send_test_email_tries_the_values_on_the_screen_without_saving(
    page: Page, live_app: LiveApp, smtp_server_factory: SmtpServerFactory, silent_relay: int
) -> None:
    sink = await smtp_server_factory()
    await sign_in(page, live_app)
    await fill_plain_relay(page, sink)
    await page.get_by_label("SMTP Port").fill("9")  # nothing listens there: what is saved fails
    await page.get_by_label("Default Admin Contact Email Addresses").fill("ops@corp.internal")
    await save(page)
    await expect(page.get_by_text(messages.CHANGES_SAVED)).to_be_visible()
    saved = await live_app.container.settings.current()
    await expect(page.get_by_label("Send to")).to_have_value(ADMIN_EMAIL)
    await expect(page.locator("#test-email-hint")).to_contain_text("without saving")

    await page.get_by_label("SMTP Port").fill(str(sink.port))  # on the screen only
    await page.get_by_label("Send to").fill("ops@corp.internal")
    await page.get_by_role("button", name="Send test e-mail").click()
    await expect(page.locator("#test-email-result")).to_contain_text(
        messages.test_email_sent("ops@corp.internal")
    )
    await screenshot(page, "admin-path-3-test-of-unsaved-values")
    assert [message.rcpt_tos for message in sink.messages] == [("ops@corp.internal",)]
    assert await live_app.container.settings.current() == saved

    await page.get_by_label("SMTP Port").fill(str(silent_relay))
    await page.get_by_text("Advanced").click()
    await page.get_by_label("Connect timeout (seconds)").fill("3")
    await page.get_by_role("button", name="Send test e-mail").click()
    await expect(page.locator("#test-email-sending")).to_be_visible()
    await expect(page.get_by_role("button", name="Save", exact=True)).to_be_disabled()
    await screenshot(page, "admin-path-3-sending")
    await expect(page.locator("#test-email-result")).to_contain_text(
        messages.TEST_EMAIL_FAILED, timeout=20_000
    )
    await expect(page.get_by_role("button", name="Save", exact=True)).to_be_enabled()


async def test_presets_fill_editable_values_and_switching_provider_clears_them(
    page: Page, live_app: LiveApp, smtp_server_factory: SmtpServerFactory
) -> None:
    sink = await smtp_server_factory()
    await sign_in(page, live_app)
    await page.get_by_label("From Address").fill("alerts@corp.local")
    await page.get_by_label("E-mail Authentication Type").select_option("oauth2")
    await page.get_by_label("E-mail Provider").select_option("microsoft")
    hostname = page.get_by_label("Hostname (SMTP Relay Server)")
    await expect(hostname).to_have_value("smtp.office365.com")
    await expect(hostname).to_be_editable()
    await expect(page.get_by_label("SMTP Encryption")).to_be_enabled()
    await expect(page.locator("#microsoft-recommended-hint")).to_contain_text("Recommended")
    await hostname.fill("smtp.office365.us")  # a sovereign cloud
    await page.get_by_label("Tenant ID").fill("contoso.onmicrosoft.com")
    await screenshot(page, "admin-path-5-microsoft-preset-editable")

    await page.get_by_label("E-mail Provider").select_option("custom")
    await expect(page.get_by_label("Scopes")).to_have_value("")
    await expect(page.get_by_label("Authentication Endpoint")).to_have_value("")
    await expect(page.get_by_label("Tenant ID")).to_be_hidden()
    await hostname.fill("127.0.0.1")
    await page.get_by_label("SMTP Port").fill(str(sink.port))
    await page.get_by_label("Username").fill("alerts@corp.local")
    await page.get_by_label("Application (Client) ID").fill("client-1")
    await page.get_by_label("Scopes").fill("smtp.send")
    await page.get_by_label("Authentication Endpoint").fill("https://id.corp.local/authorize")
    await page.get_by_label("Token Endpoint").fill("https://id.corp.local/token")
    await screenshot(page, "admin-path-5-custom-after-microsoft")
    await save(page)
    await expect(page.get_by_text(messages.CHANGES_SAVED)).to_be_visible()
    stored = (await live_app.container.settings.current()).settings
    assert (stored.oauth_provider, stored.tenant_id, stored.messages_per_minute) == ("custom", "", 0)
    assert re.match(r"https://id\.corp\.local/", stored.authorization_endpoint)
