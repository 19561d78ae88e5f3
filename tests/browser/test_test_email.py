"""The test e-mail from the browser: through a real relay (aiosmtpd, STARTTLS, AUTH), and the seed's
message with its link to Edit info when the administrator has no e-mail address."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from alertmail.domain import messages
from tests.support.browser import ADMIN, ADMIN_EMAIL, LiveApp, screenshot, sign_in
from tests.support.smtp import SmtpServerFactory, SmtpSink


async def save_relay(page: Page, sink: SmtpSink, tls_ca_pem: str) -> None:
    await page.get_by_label("From Address").fill("appliance@example.com")
    await page.get_by_label("E-mail Authentication Type").select_option("basic")
    await page.get_by_label("Hostname (SMTP Relay Server)").fill("127.0.0.1")
    await page.get_by_label("SMTP Port").fill(str(sink.port))
    await page.get_by_label("SMTP Encryption").select_option("starttls")
    await page.get_by_label("Username").fill(sink.options.username)
    await page.locator("#f-password").fill(sink.options.password)
    await page.get_by_text("Advanced").click()
    await page.get_by_label("Trusted CA certificates (PEM)").fill(tls_ca_pem)
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_text(messages.CHANGES_SAVED)).to_be_visible()


async def test_a_test_email_reaches_a_real_relay(
    page: Page, live_app: LiveApp, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    sink = await smtp_server_factory(tls="starttls", require_starttls=True, auth_required=True)
    await sign_in(page, live_app)
    await save_relay(page, sink, tls_ca_pem)

    await page.get_by_role("button", name="Send test e-mail").click()
    result = page.locator("#test-email-result")
    await expect(result).to_have_text(re.compile(re.escape(messages.test_email_sent(ADMIN_EMAIL))))
    await screenshot(page, "test-email-sent")
    assert [message.rcpt_tos for message in sink.messages] == [(ADMIN_EMAIL,)]
    assert sink.auth_received and not sink.auth_before_tls


async def test_without_an_administrator_email_the_seed_message_links_to_edit_info(
    page: Page, live_app: LiveApp, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    sink = await smtp_server_factory(tls="starttls", require_starttls=True, auth_required=True)
    await live_app.container.administrators.set_email(ADMIN, None)
    await sign_in(page, live_app)
    await save_relay(page, sink, tls_ca_pem)

    await page.get_by_role("button", name="Send test e-mail").click()
    result = page.locator("#test-email-result")
    await expect(result).to_have_text(messages.NO_ADMINISTRATOR_EMAIL)
    await screenshot(page, "test-email-no-address")
    assert sink.messages == []

    await result.get_by_role("link", name="System Administrators > Edit info").click()
    await expect(page.get_by_role("heading", name=f"Edit info: {ADMIN}")).to_be_visible()
    await page.get_by_label("E-mail").fill("not an address")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#f-email-error")).to_contain_text("is not a valid e-mail address")
    await page.get_by_label("E-mail").fill("someone@example.com")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text(messages.CHANGES_SAVED)).to_be_visible()
    await screenshot(page, "edit-info-saved")

    await page.get_by_role("link", name="Mail Settings").first.click()
    await page.get_by_role("button", name="Send test e-mail").click()
    await expect(page.locator("#test-email-result")).to_have_text(
        re.compile(re.escape(messages.test_email_sent("someone@example.com")))
    )
    assert [message.rcpt_tos for message in sink.messages] == [("someone@example.com",)]
