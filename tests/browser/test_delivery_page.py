"""The Delivery tab in Chromium: a refused recipient shows beside the one that got the message, the
chart draws seeded data, a queued message is cancelled through its confirmation, and the page fits
a 390 px phone without sideways scrolling or a console error."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from playwright.async_api import Browser, Dialog, Page, expect

from alertmail.composition import Container
from tests.support.browser import SCREENSHOTS, LiveApp, screenshot, sign_in, watch_console
from tests.support.delivery import relay_changes
from tests.support.outbox import REFUSED_REPLY, seed, seed_refused_recipient
from tests.support.smtp import SmtpSink


async def a_week_of_mail(container: Container) -> None:
    now = datetime.now(UTC)
    for hours_ago in range(0, 7 * 24, 5):
        when = now - timedelta(hours=hours_ago, minutes=1)
        for _ in range(1 + hours_ago % 4):
            await seed(container, "Daily report", "sent", created_at=when, attempts=1 + hours_ago % 3 // 2)
        if hours_ago % 15 == 0:
            await seed(container, "Lost alert", "dead", created_at=when, last_error="550 no such user")
    await seed_refused_recipient(container, created_at=now - timedelta(seconds=30))
    await seed(container, "Queued alert", "queued", created_at=now - timedelta(seconds=10))


async def accept(dialog: Dialog) -> None:
    await dialog.accept()


async def test_recipients_chart_and_cancel_on_the_delivery_tab(page: Page, live_app: LiveApp) -> None:
    await a_week_of_mail(live_app.container)
    await sign_in(page, live_app)
    await page.get_by_role("link", name="Delivery", exact=True).click()
    await expect(page.get_by_role("heading", name="Messages per hour, last 7 days")).to_be_visible()
    failover = page.locator("tr.entry", has_text="Failover completed")
    await expect(failover.locator("li", has_text="got@example.com")).to_have_text("got@example.com: sent")
    await expect(failover.locator("li", has_text="refused@example.com")).to_contain_text(
        f"refused ({REFUSED_REPLY})"
    )
    await expect(failover.get_by_role("link", name="Mail Server Logs")).to_be_visible()
    await expect(page.locator("svg.chart-svg rect[fill='url(#fill-sent)']")).not_to_have_count(0)
    await expect(page.locator("svg.chart-svg rect[fill='url(#fill-dead)']")).not_to_have_count(0)
    await screenshot(page, "delivery")
    await page.get_by_role("link", name="Per day, 30 days").click()
    await expect(page.get_by_role("heading", name="Messages per day, last 30 days")).to_be_visible()
    await expect(page.locator("svg.chart-svg rect[fill='url(#fill-sent)']")).not_to_have_count(0)
    days_drawn = await page.locator("svg.chart-svg rect[fill='url(#fill-sent)']").count()
    assert days_drawn in (7, 8)  # 7 x 24 hours of mail fall on 7 or 8 UTC days
    await screenshot(page, "delivery-30-days")
    await page.get_by_role("link", name="Per hour, 7 days").click()

    page.once("dialog", accept)
    await page.get_by_role("button", name="Cancel Queued alert").click()
    await expect(page.get_by_text("The message was cancelled: it will not be sent.")).to_be_visible()
    queued = page.locator("tr.entry", has_text="Queued alert")
    await expect(queued.locator("td[data-label=Status]")).to_contain_text("Dead")
    await expect(queued.get_by_role("button", name="Retry Queued alert")).to_be_visible()
    assert live_app.console_errors == []


async def test_the_delivery_tab_fits_a_phone(browser: Browser, live_app: LiveApp) -> None:
    await a_week_of_mail(live_app.container)
    phone = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    narrow = await phone.new_page()
    watch_console(narrow, live_app)
    try:
        await sign_in(narrow, live_app)
        await narrow.goto(live_app.url + "/mail-settings/delivery")
        await expect(narrow.locator("span.recipient", has_text="refused@example.com")).to_be_visible()
        width = await narrow.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the Delivery tab scrolls sideways on a phone ({width}px)"
        await screenshot(narrow, "narrow-delivery")
        await narrow.screenshot(path=str(SCREENSHOTS / "narrow-delivery-top.png"))
    finally:
        await phone.close()
    assert live_app.console_errors == []


async def test_retry_from_the_page_delivers_to_the_refused_recipient_through_a_real_relay(
    page: Page, live_app: LiveApp, smtp_server: SmtpSink
) -> None:
    container = live_app.container
    await container.settings.save(relay_changes(smtp_server), actor="test")
    dead = await seed_refused_recipient(container)
    await sign_in(page, live_app)
    await page.goto(live_app.url + "/mail-settings/delivery")
    page.once("dialog", accept)
    await page.get_by_role("button", name="Retry Failover completed").click()
    await expect(page.get_by_text("The message was queued again")).to_be_visible()
    for _ in range(200):
        if (await container.outbox.get(dead.id)).status == "sent":
            break
        await asyncio.sleep(0.05)
    (received,) = smtp_server.messages
    assert received.rcpt_tos == ("refused@example.com",)  # not again to the one that got it
    await page.reload()
    row = page.locator("tr.entry", has_text="Failover completed")
    await expect(row.locator("td[data-label=Status]")).to_contain_text("Sent")
    await expect(row.locator("li", has_text="refused@example.com")).to_have_text("refused@example.com: sent")
    assert live_app.console_errors == []


async def test_events_page_through_older_events_keeping_the_type_chosen(
    page: Page, live_app: LiveApp
) -> None:
    notifications = live_app.container.notifications
    for n in range(60):  # 60 of one type and a few of another: two pages of the one chosen
        await notifications.raise_event("test", {"n": n}, dedupe_key=f"test-{n}")
    for n in range(3):
        await notifications.raise_event("failover.version_mismatch", {"n": n}, dedupe_key=f"other-{n}")
    await sign_in(page, live_app)
    await page.goto(live_app.url + "/mail-settings/delivery/events")
    await page.get_by_label("Event type").select_option("test")
    await page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.events tr.entry")
    await expect(rows).to_have_count(50)
    await expect(page.get_by_role("status")).to_have_text(
        "50 events, newest first: older ones on the next page."
    )
    first_page = await rows.locator("td[data-label=Details]").all_inner_texts()
    await page.get_by_role("navigation", name="Pages").get_by_role("link", name="Older").click()
    await expect(rows).to_have_count(10)
    await expect(page.get_by_role("status")).to_have_text("10 older events, newest first.")
    await expect(page.get_by_label("Event type")).to_have_value("test")
    await expect(page.locator("table.events")).not_to_contain_text("failover.version_mismatch")
    second_page = await rows.locator("td[data-label=Details]").all_inner_texts()
    shown = [int(text.split()[-1]) for text in first_page + second_page]
    assert shown == list(reversed(range(60))), "every event of the type once, newest first"
    await expect(page.get_by_role("link", name="Older")).to_have_count(0)
    await screenshot(page, "delivery-events-older")
    await page.get_by_role("link", name="Newest").click()
    await expect(rows).to_have_count(50)
    assert live_app.console_errors == []
