"""Failures found in the Mail Server Logs tab: a refused port and an untrusted certificate, each
expanded to its settings snapshot and fix, filtered, exported, and no secret in any page."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from alertmail.domain import messages
from tests.support.browser import LiveApp, screenshot, sign_in
from tests.support.leaks import find_leaks, needles_for
from tests.support.smtp import SmtpServerFactory

RELAY_PASSWORD = "L0gs-relay-pa55word#"
SECRETS = needles_for({"relay password": RELAY_PASSWORD}, username="relay-user")


async def save_and_test(page: Page, port: int) -> None:
    await page.get_by_label("SMTP Port").fill(str(port))
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_text(messages.CHANGES_SAVED)).to_be_visible()
    await page.get_by_role("button", name="Send test e-mail").click()


async def test_failures_are_listed_expanded_filtered_and_exported_without_secrets(
    page: Page, live_app: LiveApp, smtp_server_factory: SmtpServerFactory, refused_port: int
) -> None:
    untrusted = await smtp_server_factory(tls="starttls", require_starttls=True, auth_required=True)
    await sign_in(page, live_app)
    await page.get_by_label("From Address").fill("appliance@example.com")
    await page.get_by_label("E-mail Authentication Type").select_option("basic")
    await page.get_by_label("Hostname (SMTP Relay Server)").fill("127.0.0.1")
    await page.get_by_label("SMTP Encryption").select_option("starttls")
    await page.get_by_label("Username").fill("relay-user")
    await page.locator("#f-password").fill(RELAY_PASSWORD)
    pages: dict[str, str] = {}

    await save_and_test(page, refused_port)
    result = page.locator("#test-email-result")
    await expect(result).to_contain_text(messages.TEST_EMAIL_FAILED)
    await expect(result).to_contain_text("connect_refused")
    await expect(result.get_by_text("Fix")).to_be_visible()
    await screenshot(page, "test-email-refused")
    pages["settings after the refused port"] = await page.content()

    await save_and_test(page, untrusted.port)  # its certificate is from a CA nobody trusts here
    await expect(result).to_contain_text("tls_handshake")
    assert untrusted.auth_attempts == []  # nothing was said before TLS was trusted

    await page.get_by_role("link", name="Mail Server Logs", exact=True).click()
    rows = page.locator("tr.entry")
    await expect(rows).to_have_count(2)
    await expect(page.locator("thead th")).to_have_text(
        ["Authentication Type", "Status", "Log Message", "Registered at"]
    )
    await expect(rows.nth(0)).to_contain_text("tls_handshake")  # newest first
    await expect(rows.nth(1)).to_contain_text("connect_refused")
    await expect(rows.nth(0).locator("td").nth(0)).to_have_text("Basic")
    await expect(rows.nth(0).locator("td").nth(1)).to_have_text("error")

    await rows.nth(1).click()  # the row itself opens its details
    details = page.locator("tr.entry-details").nth(1)
    await expect(details).to_be_visible()
    await expect(rows.nth(1).get_by_role("button")).to_have_attribute("aria-expanded", "true")
    snapshot = details.locator(".snapshot")
    await expect(snapshot).to_contain_text("Hostname")
    await expect(snapshot).to_contain_text("127.0.0.1")
    await expect(snapshot).to_contain_text(str(refused_port))
    await expect(snapshot).to_contain_text("relay-user")
    await expect(details).to_contain_text("Fix")
    await screenshot(page, "mail-server-logs-expanded")
    pages["mail server logs"] = await page.content()

    await page.get_by_label("Category").select_option("connect_refused")
    await expect(rows).to_have_count(1)
    await expect(page).to_have_url(re.compile(r"category=connect_refused"))
    await expect(rows.first).to_contain_text("connect_refused")
    await screenshot(page, "mail-server-logs-filtered")

    async with page.expect_download() as download:
        await page.get_by_role("link", name="Export CSV").click()
    exported = (await (await download.value).path()).read_text()
    assert exported.startswith("registered_at,auth_type,status,category,message")
    assert "connect_refused" in exported and "tls_handshake" not in exported
    pages["csv export"] = exported

    await page.get_by_label("From (UTC)").fill("2000-01-01")
    await page.get_by_label("To (UTC)").fill("2000-01-31")
    await page.get_by_role("button", name="Filter").click()
    await expect(rows).to_have_count(0)
    await expect(page.get_by_text("No mail server errors recorded for this filter.")).to_be_visible()
    pages["filtered to nothing"] = await page.content()

    assert find_leaks(pages, SECRETS) == []
