"""Signing in, and saving the Basic settings: a field error beside the field, then the seed's message."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from alertmail.domain import messages
from tests.support.browser import LiveApp, screenshot, sign_in
from tests.support.leaks import find_leaks, needles_for

RELAY_PASSWORD = "Br0wser-relay-S3cret!"


async def test_pages_require_sign_in_and_a_wrong_password_is_refused(page: Page, live_app: LiveApp) -> None:
    await page.goto(live_app.url + "/mail-settings/logs")
    await expect(page).to_have_url(re.compile(r"/login\?next=/mail-settings/logs$"))
    await page.get_by_label("Username").fill("admin")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("The username or password is not correct.")
    await screenshot(page, "login-refused")

    await page.get_by_label("Password").fill("correct horse battery")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(live_app.url + "/mail-settings/logs")  # back where it was going
    await expect(page.get_by_role("heading", name="Mail Settings")).to_be_visible()

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    await page.goto(live_app.url + "/mail-settings")
    await expect(page).to_have_url(re.compile(r"/login\?next=/mail-settings$"))


async def fill_basic(page: Page, *, port: str) -> None:
    await page.get_by_label("From Address").fill("alerts@example.com")
    await page.get_by_label("E-mail Authentication Type").select_option("basic")
    await page.get_by_label("E-mail Type").select_option("smtp")
    await page.get_by_label("Hostname (SMTP Relay Server)").fill("smtp.example.com")
    await page.get_by_label("SMTP Port").fill(port)
    await page.get_by_label("SMTP Encryption").select_option("starttls")
    await page.get_by_label("Username").fill("alerts@example.com")
    await page.locator("#f-password").fill(RELAY_PASSWORD)
    await page.get_by_label("Default Admin Contact Email Addresses").fill("ops@example.com noc@example.com")


async def test_a_port_out_of_range_is_refused_beside_the_field_then_good_settings_are_saved(
    page: Page, live_app: LiveApp
) -> None:
    await sign_in(page, live_app)
    await fill_basic(page, port="70000")
    await page.get_by_role("button", name="Save", exact=True).click()

    port_error = page.locator("#f-port-error")
    await expect(port_error).to_have_text(re.compile("SMTP Port must be a whole number from 1 to 65535"))
    await expect(page.get_by_label("SMTP Port")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_text(messages.SAVE_FAILED)).to_be_visible()
    await screenshot(page, "settings-port-refused")
    assert (await live_app.container.settings.current()).version == 0  # nothing saved

    await page.get_by_label("SMTP Port").fill("587")
    await page.locator("#f-password").fill(RELAY_PASSWORD)  # never sent back
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_role("status").filter(has_text=messages.CHANGES_SAVED)).to_be_visible()
    await screenshot(page, "settings-saved")

    stored = await live_app.container.settings.current()
    assert (stored.version, stored.settings.port, stored.settings.hostname) == (1, 587, "smtp.example.com")
    assert stored.settings.admin_contacts == ["ops@example.com", "noc@example.com"]
    await expect(page.locator("#f-password-state")).to_have_text("set")
    await expect(page.locator("#f-password")).to_have_value("")
    assert (
        find_leaks({"settings page": await page.content()}, needles_for({"password": RELAY_PASSWORD})) == []
    )

    # An empty password field keeps the stored password.
    await page.get_by_label("SMTP Port").fill("2525")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_text(messages.CHANGES_SAVED)).to_be_visible()
    kept = (await live_app.container.settings.current()).settings
    assert kept.port == 2525 and kept.password is not None
    assert kept.password.get_secret_value() == RELAY_PASSWORD


async def test_a_form_posted_without_its_csrf_token_is_refused(page: Page, live_app: LiveApp) -> None:
    await sign_in(page, live_app)
    await fill_basic(page, port="587")
    await page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.get_by_role("button", name="Save", exact=True).click()
    assert (await answer.value).status == 403
    await expect(page.get_by_role("heading", name="Request refused")).to_be_visible()
    await screenshot(page, "csrf-refused")
    assert (await live_app.container.settings.current()).version == 0


async def test_a_password_in_clear_needs_the_checkbox_beside_its_warning(
    page: Page, live_app: LiveApp
) -> None:
    # #13 item 1: Basic authentication without TLS is refused until the administrator allows it.
    await sign_in(page, live_app)
    await fill_basic(page, port="25")
    checkbox = page.get_by_label("Allow the password to be sent without encryption")
    warning = page.locator("#f-allow_plaintext_auth-warning")
    await expect(checkbox).to_be_visible()
    await expect(warning).to_contain_text("crosses the network in clear")
    await page.get_by_label("SMTP Encryption").select_option("none")
    await page.get_by_role("button", name="Save", exact=True).click()

    await expect(page.locator("#f-encryption-error")).to_contain_text("allow_plaintext_auth")
    assert (await live_app.container.settings.current()).version == 0  # nothing saved

    await page.locator("#f-password").fill(RELAY_PASSWORD)
    await page.get_by_label("Allow the password to be sent without encryption").check()
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_role("status").filter(has_text=messages.CHANGES_SAVED)).to_be_visible()
    await screenshot(page, "settings-plaintext-auth-allowed")
    stored = (await live_app.container.settings.current()).settings
    assert (stored.encryption, stored.allow_plaintext_auth) == ("none", True)

    await page.get_by_label("E-mail Authentication Type").select_option("none")
    await expect(checkbox).to_be_hidden()  # only beside Basic authentication
