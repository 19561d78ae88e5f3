"""The Delivery tab over HTTP, without a browser: the real app on SQLite and on PostgreSQL, messages
seeded in the outbox, the health strip, per-recipient outcomes with each one's own reply, keyset pages
of messages and of events (and of /api/v1/events), retry and cancel behind CSRF."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from alertmail.composition import Container
from alertmail.config import AppConfig
from alertmail.domain.outbox import RecipientReply
from alertmail.interfaces.api.app import create_app
from tests.support.app import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, csrf_token_of, signed_in
from tests.support.outbox import REFUSED_REPLY, seed, seed_refused_recipient

PAGE = "/mail-settings/delivery"


@pytest.fixture
def app_config(tmp_path: Path, database_url: str) -> AppConfig:
    return AppConfig(
        data_dir=tmp_path / "data", database_url=database_url, node_name="test-node", heartbeat_seconds=3600
    )


@pytest.fixture
async def app(app_config: AppConfig) -> AsyncIterator[FastAPI]:
    app = create_app(app_config)
    async with app.router.lifespan_context(app):
        container: Container = app.state.container
        await container.administrators.create(ADMIN, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        yield app


@pytest.fixture
def container(app: FastAPI) -> Container:
    found: Container = app.state.container
    return found


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with signed_in(app) as client:
        yield client


def text_of(page: httpx.Response) -> str:
    return html.unescape(page.text)


async def test_the_page_needs_a_session(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://alertmail.test") as anonymous:
        page = await anonymous.get(PAGE)
    assert (page.status_code, page.headers["location"]) == (303, "/login?next=/mail-settings/delivery")


async def test_the_tab_sits_beside_mail_server_logs_and_shows_the_health_strip(
    container: Container, http: httpx.AsyncClient
) -> None:
    await seed(container, "Queued one", "queued")
    await seed(container, "Retrying one", "retry_wait")
    await seed(container, "Waiting one", "waiting_config")
    await seed(container, "Dead today", "dead")
    await seed(container, "Dead long ago", "dead", created_at=datetime.now(UTC) - timedelta(days=3))
    page = await http.get(PAGE)
    assert page.status_code == 200
    shown = text_of(page)
    assert '<a href="/mail-settings/logs">Mail Server Logs</a>' in shown
    assert '<a href="/mail-settings/delivery" aria-current="page">Delivery</a>' in shown
    strip = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    assert "1 queued" in strip and "1 retrying" in strip and "1 waiting on configuration" in strip
    assert "1 dead in the last 24&nbsp;h" in strip  # the one from three days ago is not counted
    assert "OAuth token: not in use" in strip and "Relay last failure: none recorded" in strip
    for status in ("queued", "retry_wait", "waiting_config", "dead"):
        assert f'href="/mail-settings/delivery?status={status}"' in shown


async def test_a_refused_recipient_shows_its_own_outcome_beside_the_one_that_got_it(
    container: Container, http: httpx.AsyncClient
) -> None:
    await seed_refused_recipient(container)
    shown = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", (await http.get(PAGE)).text)))
    assert "got@example.com: sent" in shown
    assert f"refused@example.com: refused ({REFUSED_REPLY})" in shown
    page = text_of(await http.get(PAGE))
    assert 'href="/mail-settings/logs?category=smtp_recipient&from=' in page


async def test_a_recipient_of_a_message_that_stopped_says_why_it_was_not_sent(
    container: Container, http: httpx.AsyncClient
) -> None:
    await seed(container, "Gave up", "dead", recipients=("a@example.com",), last_error="expired")
    await seed(container, "Held", "waiting_config", recipients=("b@example.com",))
    await seed(container, "Later", "retry_wait", recipients=("c@example.com",))
    shown = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", (await http.get(PAGE)).text)))
    assert "a@example.com: not sent" in shown
    assert "b@example.com: waiting on configuration" in shown
    assert "c@example.com: retrying (next attempt " in shown


async def test_the_filter_shows_one_status_and_refuses_an_unknown_one_by_name(
    container: Container, http: httpx.AsyncClient
) -> None:
    await seed(container, "Alpha dead", "dead")
    await seed(container, "Beta sent", "sent")
    dead = text_of(await http.get(PAGE, params={"status": "dead"}))
    assert "Alpha dead" in dead and "Beta sent" not in dead
    unknown = await http.get(PAGE, params={"status": "lost", "before": "garbage"})
    assert unknown.status_code == 200
    assert "Status is not a message status" in unknown.text
    assert "Page is not a page of this list" in unknown.text
    assert "Alpha dead" in text_of(unknown) and "Beta sent" in text_of(unknown)


async def test_pages_walk_the_outbox_newest_first_without_repeats_or_gaps(
    container: Container, http: httpx.AsyncClient
) -> None:
    start = datetime.now(UTC) - timedelta(hours=2)
    for n in range(60):
        await seed(container, f"Message {n:02d}", "sent", created_at=start + timedelta(seconds=n // 2))
    seen: list[str] = []
    url: str | None = PAGE
    while url is not None:
        page = await http.get(url)
        seen += re.findall(r"<strong>Message (\d\d)</strong>", page.text)
        older = re.search(r'href="(/mail-settings/delivery\?[^"]*before=[^"]+)">Older', page.text)
        url = html.unescape(older.group(1)) if older else None
    assert sorted(seen, reverse=True) == [f"{n:02d}" for n in reversed(range(60))]
    assert len(seen) == len(set(seen)) == 60
    assert seen[0] in ("59", "58") and seen[-1] in ("00", "01")


async def test_retry_requeues_a_dead_message_after_post_redirect_get(
    container: Container, http: httpx.AsyncClient
) -> None:
    dead = await seed(container, "Dead one", "dead", last_error="550 no such user")
    page = await http.get(PAGE)
    done = await http.post(f"{PAGE}/messages/{dead.id}/retry", data={"csrf_token": csrf_token_of(page.text)})
    assert (done.status_code, done.headers["location"]) == (303, PAGE)
    assert (await container.outbox.get(dead.id)).status in ("queued", "sending", "sent", "waiting_config")
    after = await http.get(PAGE)
    assert "The message was queued again" in after.text
    assert "The message was queued again" not in (await http.get(PAGE)).text  # shown once


async def test_cancel_gives_up_a_queued_message_and_a_second_cancel_says_why_not(
    container: Container, http: httpx.AsyncClient
) -> None:
    queued = await seed(container, "Queued one", "queued")
    token = csrf_token_of((await http.get(PAGE)).text)
    done = await http.post(f"{PAGE}/messages/{queued.id}/cancel", data={"csrf_token": token})
    assert done.status_code == 303
    cancelled = await container.outbox.get(queued.id)
    assert (cancelled.status, cancelled.next_attempt_at) == ("dead", None)
    assert "The message was cancelled" in (await http.get(PAGE)).text
    again = await http.post(f"{PAGE}/messages/{queued.id}/cancel", data={"csrf_token": token})
    assert again.status_code == 303
    assert "is dead: only queued or retrying messages cancel" in text_of(await http.get(PAGE))


async def test_retry_and_cancel_without_the_csrf_token_change_nothing(
    container: Container, http: httpx.AsyncClient
) -> None:
    queued = await seed(container, "Queued one", "queued")
    dead = await seed(container, "Dead one", "dead")
    refused = await http.post(f"{PAGE}/messages/{queued.id}/cancel", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    refused = await http.post(f"{PAGE}/messages/{dead.id}/retry", data={})
    assert refused.status_code == 403
    assert (await container.outbox.get(queued.id)).status == "queued"
    assert (await container.outbox.get(dead.id)).status == "dead"


async def test_an_unknown_message_is_named_not_a_500(http: httpx.AsyncClient) -> None:
    token = csrf_token_of((await http.get(PAGE)).text)
    done = await http.post(f"{PAGE}/messages/nope/retry", data={"csrf_token": token})
    assert done.status_code == 303
    assert "There is no outbox message 'nope'" in text_of(await http.get(PAGE))


async def test_the_api_cancels_a_queued_message_and_answers_409_for_a_dead_one(
    container: Container, app: FastAPI
) -> None:
    queued = await seed(container, "Queued one", "queued")
    _, token = await container.administrators.create_token("delivery", administrator=ADMIN)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://a.test", headers=headers) as api:
        done = await api.post(f"/api/v1/messages/{queued.id}/cancel")
        assert (done.status_code, done.json()["status"]) == (200, "dead")
        again = await api.post(f"/api/v1/messages/{queued.id}/cancel")
        assert again.status_code == 409 and "only queued or retrying" in again.json()["message"]
        assert (await api.post("/api/v1/messages/nope/cancel")).status_code == 404


async def test_the_chart_counts_each_hour_and_its_table_gives_the_same_numbers(
    container: Container, http: httpx.AsyncClient
) -> None:
    now = datetime.now(UTC)
    two_hours_ago = now.replace(minute=10, second=0, microsecond=0) - timedelta(hours=2)
    for _ in range(3):
        await seed(container, "Sent first time", "sent", created_at=two_hours_ago, attempts=1)
    await seed(container, "Sent on retry", "sent", created_at=two_hours_ago, attempts=3)
    await seed(container, "Dead after retries", "dead", created_at=two_hours_ago + timedelta(minutes=40))
    await seed(container, "Too old", "dead", created_at=now - timedelta(days=8))
    page = await http.get(PAGE)
    hour = f"{two_hours_ago:%Y-%m-%d %H}:00"
    row = re.search(rf"<th scope=\"row\"[^>]*>{hour}</th>(.*?)</tr>", page.text)
    assert row, "the busy hour is missing from the table"
    assert re.findall(r">(\d+)</td>", row.group(1)) == ["4", "1", "1"]
    assert len(re.findall(r'<th scope="row" data-label="Hour \(UTC\)">', page.text)) == 1
    assert "Messages per hour over the last 7 days: 4 sent, 1 retried, 1 dead." in page.text
    assert f"<title>{hour} UTC: 4 sent</title>" in page.text
    assert f"<title>{hour} UTC: 1 dead</title>" in page.text
    assert page.text.count('fill="url(#fill-sent)" stroke') == 1  # one busy hour, one bar
    assert "Sent (solid)" in page.text and "Dead (crosses)" in page.text


async def test_an_empty_outbox_draws_an_empty_chart_and_says_so(http: httpx.AsyncClient) -> None:
    page = await http.get(PAGE)
    assert "No messages in the last 7 days." in page.text
    assert "0 sent, 0 retried, 0 dead" in page.text
    assert 'fill="url(#fill-dead)" stroke' not in page.text


async def test_events_show_newest_first_with_their_fate_and_details_escaped(
    container: Container, http: httpx.AsyncClient
) -> None:
    first = await container.notifications.raise_event("test", {"note": "<script>alert(1)</script>"})
    await container.notifications.raise_event(
        "failover.version_mismatch", {"primary_version": "1.4", "backup_version": "1.3"}
    )
    page = await http.get(f"{PAGE}/events")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    rows = re.findall(r'<span class="code">([a-z_.]+)</span>', page.text)
    assert rows[:2] == ["failover.version_mismatch", "test"]
    label = {"no_recipients": "No recipients", "mailed": "Mailed"}[first.disposition]
    assert label in page.text
    only = await http.get(f"{PAGE}/events", params={"type": "test"})
    assert "failover.version_mismatch</span>" not in only.text and "test</span>" in only.text
    other = "mailed" if first.disposition != "mailed" else "coalesced"
    none = await http.get(f"{PAGE}/events", params={"type": "test", "disposition": other})
    assert "No events for this filter." in none.text


async def test_an_unknown_event_filter_is_named_and_ignored(
    container: Container, http: httpx.AsyncClient
) -> None:
    await container.notifications.raise_event("test", {})
    page = await http.get(f"{PAGE}/events", params={"type": "disk.full", "disposition": "lost"})
    assert page.status_code == 200
    assert "Event type is not an event type of this appliance" in page.text
    assert "What became of it is not one of: mailed, coalesced, no_recipients" in page.text
    assert "test</span>" in page.text


async def test_the_api_gives_the_charts_hours_and_refuses_a_range_out_of_bounds(
    container: Container, app: FastAPI
) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    await seed(container, "Sent", "sent", created_at=an_hour_ago, attempts=2)
    _, token = await container.administrators.create_token("chart", administrator=ADMIN)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://a.test", headers=headers) as api:
        week = await api.get("/api/v1/messages/hourly")
        assert week.status_code == 200 and len(week.json()) == 7 * 24
        busy = [hour for hour in week.json() if hour["sent"]]
        assert [(h["sent"], h["retried"], h["dead"]) for h in busy] == [(1, 1, 0)]
        assert busy[0]["hour"].startswith(f"{an_hour_ago:%Y-%m-%dT%H}:00:00")
        assert len((await api.get("/api/v1/messages/hourly", params={"days": 30})).json()) == 720
        refused = await api.get("/api/v1/messages/hourly", params={"days": 31})
        assert refused.status_code == 422 and "days" in refused.text


async def test_the_date_filter_keeps_messages_queued_on_those_days_and_names_a_bad_date(
    container: Container, http: httpx.AsyncClient
) -> None:
    await seed(container, "Early one", "sent", created_at=datetime(2026, 11, 1, 23, 59, tzinfo=UTC))
    await seed(container, "Middle one", "sent", created_at=datetime(2026, 11, 2, 0, 0, tzinfo=UTC))
    await seed(container, "Late one", "sent", created_at=datetime(2026, 11, 3, 0, 0, tzinfo=UTC))
    page = await http.get(PAGE, params={"from": "2026-11-02", "to": "2026-11-02"})
    assert "Middle one" in page.text and "Early one" not in page.text and "Late one" not in page.text
    assert 'name="from" type="date" value="2026-11-02"' in page.text
    bad = await http.get(PAGE, params={"from": "02/11/2026"})
    assert bad.status_code == 200 and "Queued from must be a date as YYYY-MM-DD" in bad.text
    assert "Early one" in bad.text and "Late one" in bad.text


async def test_the_30_day_chart_counts_per_day(container: Container, http: httpx.AsyncClient) -> None:
    ten_days_ago = datetime.now(UTC).replace(hour=3, minute=0, second=0, microsecond=0) - timedelta(days=10)
    await seed(container, "Sent early", "sent", created_at=ten_days_ago, attempts=1)
    await seed(container, "Dead late", "dead", created_at=ten_days_ago + timedelta(hours=20))
    week = await http.get(PAGE)
    assert "0 sent, 0 retried, 0 dead" in week.text  # ten days ago is outside the 7-day chart
    month = await http.get(PAGE, params={"chart": "30d"})
    assert "Messages per day over the last 30 days: 1 sent, 0 retried, 1 dead." in month.text
    day = f"{ten_days_ago:%Y-%m-%d}"
    row = re.search(rf'<th scope="row" data-label="Day \(UTC\)">{day}</th>(.*?)</tr>', month.text)
    assert row and re.findall(r">(\d+)</td>", row.group(1)) == ["1", "0", "1"]
    assert f"<title>{day}: 1 sent</title>" in month.text


def visible_text(page: httpx.Response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page.text)))


async def test_each_refused_recipient_shows_its_own_reply_not_the_messages_last_error(
    container: Container, http: httpx.AsyncClient, app: FastAPI
) -> None:
    busy = RecipientReply(452, "4.2.2 <busy@example.com>: mailbox full")
    gone = RecipientReply(550, "5.1.1 <gone@example.com>: no such user")
    message = await seed(
        container,
        "Two refusals",
        "retry_wait",
        recipients=("got@example.com", "busy@example.com", "gone@example.com"),
        recipient_states={
            "got@example.com": "sent",
            "busy@example.com": "pending",
            "gone@example.com": "dead",
        },
        recipient_replies={"busy@example.com": busy, "gone@example.com": gone},
        last_error="busy@example.com: mailbox full; gone@example.com: unknown recipient",
    )
    shown = visible_text(await http.get(PAGE))
    assert "got@example.com: sent" in shown
    assert "busy@example.com: retrying (next attempt " in shown and f"; last reply {busy})" in shown
    assert f"gone@example.com: refused ({gone})" in shown
    assert "gone@example.com: refused (busy@example.com" not in shown
    _, token = await container.administrators.create_token("outcomes", administrator=ADMIN)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://a.test") as api:
        found = await api.get(f"/api/v1/messages/{message.id}", headers={"Authorization": f"Bearer {token}"})
    assert found.json()["recipient_outcomes"] == [
        {"address": "got@example.com", "state": "sent", "reply": None},
        {"address": "busy@example.com", "state": "pending", "reply": {"code": 452, "text": busy.text}},
        {"address": "gone@example.com", "state": "dead", "reply": {"code": 550, "text": gone.text}},
    ]


async def test_the_health_strip_and_chart_count_a_message_dead_today_that_was_queued_days_ago(
    container: Container, http: httpx.AsyncClient
) -> None:
    now = datetime.now(UTC)
    an_hour_ago = now.replace(minute=10, second=0, microsecond=0) - timedelta(hours=1)
    await seed(container, "Expired today", "dead", created_at=now - timedelta(days=2), dead_at=an_hour_ago)
    await seed(container, "Died long ago", "dead", created_at=now - timedelta(days=3))
    page = await http.get(PAGE)
    strip = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    assert "1 dead in the last 24&nbsp;h" in strip
    assert f"<title>{an_hour_ago:%Y-%m-%d %H}:00 UTC: 1 dead</title>" in page.text
    assert "Messages per hour over the last 7 days: 0 sent, 0 retried, 2 dead." in page.text


async def raise_events(container: Container, count: int) -> list[tuple[str, str]]:
    """`count` events, alternately of two types: (type, id) of each, newest first."""
    raised = []
    for n in range(count):
        kind = "test" if n % 2 else "failover.version_mismatch"
        recorded = await container.notifications.raise_event(kind, {"n": n}, dedupe_key=f"k{n}")
        raised.insert(0, (kind, recorded.event_id))
    return raised


async def test_event_pages_walk_one_type_newest_first_and_keep_the_filter(
    container: Container, http: httpx.AsyncClient
) -> None:
    raised = await raise_events(container, 130)  # 65 of each type: two pages of one type
    seen: list[str] = []
    url: str | None = f"{PAGE}/events?type=test"
    pages = 0
    while url is not None:
        page = await http.get(url)
        pages += 1
        assert "failover.version_mismatch</span>" not in page.text, "the type filter was lost"
        seen += re.findall(r'<tr class="entry" id="event-([^"]+)"', page.text)
        older = re.search(r'href="(/mail-settings/delivery/events\?[^"]*)">Older', page.text)
        url = html.unescape(older.group(1)) if older else None
        if url is not None:
            assert "type=test" in url and "before=" in url
    assert pages == 2 and seen == [id for kind, id in raised if kind == "test"]
    assert 'href="/mail-settings/delivery/events?type=test">Newest' in page.text
    assert "15 older events, newest first." in visible_text(page)


async def test_an_event_page_that_is_not_one_is_named_and_the_first_page_shown(
    container: Container, http: httpx.AsyncClient
) -> None:
    await raise_events(container, 2)
    page = await http.get(f"{PAGE}/events", params={"before": "yesterday|x"})
    assert page.status_code == 200
    assert "Page is not a page of this list: start again from the first page" in page.text
    assert len(re.findall(r'<tr class="entry"', page.text)) == 2


async def test_the_api_pages_events_through_the_link_header(container: Container, app: FastAPI) -> None:
    raised = await raise_events(container, 5)
    _, token = await container.administrators.create_token("events", administrator=ADMIN)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://a.test", headers=headers) as api:
        seen: list[str] = []
        url: str | None = "/api/v1/events?limit=2"
        while url is not None:
            answer = await api.get(url)
            assert answer.status_code == 200
            seen += [event["id"] for event in answer.json()]
            link = answer.headers.get("link")
            url = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1) if link else None  # type: ignore[union-attr]
            assert url is None or url.startswith("/api/v1/events?limit=2&before=")
        assert seen == [id for _, id in raised]
        bad = await api.get("/api/v1/events", params={"before": "nope"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "before"
