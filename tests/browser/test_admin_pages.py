"""Every page at a phone's and a laptop's width, and the words a person reads (issue #17, items 7, 8):
no console error, no missing asset, no sideways scroll; categories and settings in words, not codes."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, Response, expect

from alertmail.domain import messages
from tests.support.browser import ADMIN, LiveApp, screenshot, sign_in, watch_console

PAGES = [
    "/mail-settings",
    "/mail-settings/logs",
    "/mail-settings/delivery",
    "/mail-settings/delivery/events",
    "/administrators",
    f"/administrators/{ADMIN}/edit",
    "/cluster",
]


@pytest.mark.parametrize("width", [390, 1280])
async def test_every_page_fits_loads_all_its_assets_and_logs_no_error(
    browser: Browser, live_app: LiveApp, width: int
) -> None:
    context = await browser.new_context(viewport={"width": width, "height": 900})
    page = await context.new_page()
    watch_console(page, live_app)
    failed: list[str] = []

    def keep_failures(response: Response) -> None:
        if response.url.startswith(live_app.url) and response.status >= 400:
            failed.append(f"{response.status} {response.url}")

    page.on("response", keep_failures)
    try:
        await page.goto(live_app.url + "/login")
        await _check(page, width, "login")
        await sign_in(page, live_app)
        for path in PAGES:
            await page.goto(live_app.url + path)
            await _check(page, width, path.strip("/").replace("/", "-"))
        favicon = await page.request.get(live_app.url + "/favicon.ico")
        assert favicon.status == 200 and favicon.headers["content-type"].startswith("image/")
    finally:
        await context.close()
    assert failed == [], "pages asked for something this server does not have"
    assert live_app.console_errors == []


async def _check(page: Page, width: int, name: str) -> None:
    await page.wait_for_load_state("load")
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{name} scrolls sideways at {width}px ({scroll}px)"
    h1 = await page.locator("h1").first.inner_text()
    tabs = await page.locator("nav.tabs a").all_inner_texts()
    assert h1 not in tabs, f"{name}: the heading repeats a tab"
    await screenshot(page, f"admin-pages-{width}-{name or 'home'}")


async def test_logs_show_categories_and_settings_in_words(page: Page, live_app: LiveApp) -> None:
    await sign_in(page, live_app)
    await page.goto(live_app.url + "/mail-settings/logs")
    await expect(page.locator("table.logs thead")).to_have_count(1)  # the columns, even when empty
    await expect(page.get_by_role("option", name="Connection refused")).to_have_count(1)
    await expect(page.locator("#f-category")).not_to_contain_text("connect_refused")
    await screenshot(page, "admin-path-8-empty-logs-keep-their-columns")

    await page.goto(live_app.url + "/mail-settings")
    await page.get_by_label("From Address").fill("alerts@appliance.local")
    await page.get_by_label("Hostname (SMTP Relay Server)").fill("127.0.0.1")
    await page.get_by_label("SMTP Port").fill("9")  # nothing listens: refused
    await page.get_by_label("SMTP Encryption").select_option("none")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_text(messages.CHANGES_SAVED)).to_be_visible()
    await page.get_by_role("button", name="Send test e-mail").click()
    result = page.locator("#test-email-result")
    await expect(result).to_contain_text("Reason: Connection refused")

    await page.goto(live_app.url + "/mail-settings/logs")
    await page.locator(".row-toggle").first.click()
    details = page.locator("tr.entry-details").first
    await expect(details.locator(".snapshot")).to_contain_text("SMTP")
    await expect(details.locator(".snapshot")).to_contain_text("None")
    await expect(details.locator(".snapshot")).not_to_contain_text("smtp\n")
    await expect(page.locator("tr.entry .row-toggle").first).to_contain_text("Connection refused")
    await screenshot(page, "admin-path-7-logs-in-words")


async def test_native_hides_username_and_password(page: Page, live_app: LiveApp) -> None:
    await sign_in(page, live_app)
    await page.get_by_label("E-mail Authentication Type").select_option("basic")
    await expect(page.get_by_label("Username")).to_be_visible()
    await page.get_by_label("E-mail Type").select_option("native")
    await expect(page.get_by_label("Username")).to_be_hidden()
    await expect(page.locator("#f-password")).to_be_hidden()
    await screenshot(page, "admin-path-8-native-hides-credentials")
