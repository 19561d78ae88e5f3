"""System Administrators from the browser: add, Edit info, change one's password, remove; and the
pages on a phone-sized screen."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from tests.support.browser import ADMIN, ADMIN_PASSWORD, LiveApp, screenshot, sign_in, watch_console


async def test_add_edit_remove_and_change_password(page: Page, live_app: LiveApp) -> None:
    await sign_in(page, live_app)
    await page.get_by_role("link", name="System Administrators").click()
    await page.get_by_label("Username").fill("bob")
    await page.get_by_label("E-mail").fill("bob@example.com")
    await page.locator("#f-password").fill("short")
    await page.locator("#f-password_confirm").fill("short")
    await page.get_by_role("button", name="Add administrator").click()
    await expect(page.locator("#f-password-error")).to_contain_text("at least 8 characters")

    await page.locator("#f-password").fill("bobs long password")
    await page.locator("#f-password_confirm").fill("bobs long password")
    await page.get_by_role("button", name="Add administrator").click()
    await expect(page.get_by_text("The administrator was added.")).to_be_visible()
    await expect(page.get_by_role("row", name=re.compile("bob bob@example.com"))).to_be_visible()

    await page.get_by_role("link", name="Edit info of bob").click()
    await page.get_by_label("E-mail").fill("robert@example.com")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("row", name=re.compile("robert@example.com"))).to_be_visible()
    await screenshot(page, "administrators")
    assert (await live_app.container.administrators.get("bob")) is not None

    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Remove bob").click()
    await expect(page.get_by_text("The administrator was removed.")).to_be_visible()
    assert await live_app.container.administrators.get("bob") is None
    await expect(page.get_by_role("button", name=re.compile("^Remove"))).to_have_count(
        0
    )  # the last one stays

    await page.get_by_label("Current password").fill("wrong password")
    await page.get_by_label("New password", exact=True).fill("a brand new password")
    await page.get_by_label("New password again").fill("a brand new password")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.locator("#f-current_password-error")).to_contain_text("is not correct")
    await page.get_by_label("Current password").fill(ADMIN_PASSWORD)
    await page.get_by_label("New password", exact=True).fill("a brand new password")
    await page.get_by_label("New password again").fill("a brand new password")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_text("Your password was changed.")).to_be_visible()
    assert await live_app.container.administrators.verify_password(ADMIN, "a brand new password")


async def test_the_pages_work_on_a_narrow_screen(browser: Browser, live_app: LiveApp) -> None:
    phone = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    narrow = await phone.new_page()
    watch_console(narrow, live_app)
    try:
        await sign_in(narrow, live_app)
        await narrow.get_by_label("E-mail Authentication Type").select_option("oauth2")
        await narrow.get_by_label("E-mail Provider").select_option("microsoft")
        # The preset fills Microsoft's recommended relay, which stays editable (sovereign clouds).
        await expect(narrow.get_by_label("Hostname (SMTP Relay Server)")).to_have_value("smtp.office365.com")
        await expect(narrow.get_by_label("Hostname (SMTP Relay Server)")).to_be_editable()
        await narrow.get_by_label("Tenant ID").fill("contoso.onmicrosoft.com")
        await expect(narrow.get_by_label("Token Endpoint")).to_have_value(
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        )
        width = await narrow.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the settings page scrolls sideways on a phone ({width}px)"
        await screenshot(narrow, "narrow-settings-microsoft")
        await narrow.goto(live_app.url + "/administrators")
        assert await narrow.evaluate("document.documentElement.scrollWidth") <= 390
        await screenshot(narrow, "narrow-administrators")
    finally:
        await phone.close()
    assert live_app.console_errors == []
