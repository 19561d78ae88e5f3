"""API tokens on System Administrators, from the browser: created with a scope and an expiry, the
token shown once, listed with scope, expiry and last use, then revoked."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Page, expect

from tests.support.browser import LiveApp, screenshot, sign_in


async def test_create_see_once_and_revoke_an_events_token(page: Page, live_app: LiveApp) -> None:
    await sign_in(page, live_app)
    await page.get_by_role("link", name="System Administrators").click()
    await page.get_by_label("Name", exact=True).fill("ups-monitor")
    await page.get_by_label("Scope").select_option("events")
    await page.get_by_label("Expires after").select_option("30d")
    await page.get_by_role("button", name="Create API token").click()

    shown = page.locator("#new-token")
    await expect(shown).to_have_text(re.compile(r"^am_[A-Za-z0-9_-]{40,}$"))
    token = await shown.inner_text()
    row = page.get_by_role("row", name=re.compile("ups-monitor events"))
    await expect(row).to_be_visible()
    await screenshot(page, "api-token-created")

    async with httpx.AsyncClient(base_url=live_app.url, trust_env=False) as http:
        event = {"type": "test", "details": {"from": "ups"}}
        raised = await http.post("/api/v1/events", json=event, headers={"Authorization": f"Bearer {token}"})
        assert raised.status_code == 202
        await page.goto(f"{live_app.url}/administrators")  # not a reload: that would post again
        await expect(page.locator("#new-token")).to_have_count(0)
        await expect(row).not_to_contain_text("never")  # used once: last use and expiry are dated
        assert token not in await page.content()

        page.once("dialog", lambda dialog: dialog.accept())
        await page.get_by_role("button", name="Revoke the API token ups-monitor").click()
        await expect(page.get_by_text("The API token was revoked")).to_be_visible()
        refused = await http.post("/api/v1/events", json=event, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
