"""The Delivery page's queries on SQLite and PostgreSQL: keyset pages of messages and of events newest
first through ties, outcomes per UTC hour, messages that became dead in the last day (by when they
died), each recipient's own reply, and cancel."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import JSON, Connection, DateTime, column, insert, table

from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.delivery_report import SqlDeliveryReport
from alertmail.adapters.storage.event_repository import SqlEventRepository
from alertmail.adapters.storage.outbox_repository import CANCELLED, SqlOutboxRepository
from alertmail.domain.delivery_report import HourOutcomes, PageCursor
from alertmail.domain.events import Event
from alertmail.domain.outbox import (
    OutboxMessage,
    OutboxStatus,
    RecipientReply,
    RetryPolicy,
    new_outbox_message,
    settle_recipients,
)
from alertmail.errors import ConflictError, NotFoundError
from alertmail.services.delivery_overview import DeliveryOverviewService
from tests.support.database import upgrade_to
from tests.support.outbox import give_up

NOW = datetime(2026, 11, 28, 8, 30, tzinfo=UTC)
UNKNOWN_USER = RecipientReply(550, "5.1.1 <gone@example.com>: no such user")


@pytest.fixture
def outbox(database: Database) -> SqlOutboxRepository:
    return SqlOutboxRepository(database.sessionmaker, dialect=database.dialect)


@pytest.fixture
def report(database: Database) -> SqlDeliveryReport:
    return SqlDeliveryReport(database.sessionmaker, dialect=database.dialect)


async def put(
    outbox: SqlOutboxRepository,
    created_at: datetime,
    status: OutboxStatus = "sent",
    attempts: int = 1,
    dead_at: datetime | None = None,
) -> OutboxMessage:
    """A message as stored; a dead one died when it was queued unless `dead_at` says otherwise."""
    message = new_outbox_message(
        event_type="test",
        recipients=["ops@example.com"],
        subject=f"at {created_at:%H:%M:%S}",
        text="t",
        html="<p>t</p>",
        from_address="alerts@example.com",
        now=created_at,
        policy=RetryPolicy(),
    )
    died = dead_at or (created_at if status == "dead" else None)
    return await outbox.enqueue(replace(message, status=status, attempts=attempts, dead_at=died))


async def test_pages_walk_every_message_once_newest_first_even_through_equal_times(
    outbox: SqlOutboxRepository, report: SqlDeliveryReport
) -> None:
    stored = [await put(outbox, NOW - timedelta(seconds=n // 3)) for n in range(20)]
    service = DeliveryOverviewService(report, outbox, clock=lambda: NOW)
    seen: list[OutboxMessage] = []
    cursor: PageCursor | None = None
    while True:
        page = await service.messages(before=cursor, limit=4)
        seen += page.items
        if page.next is None:
            break
        cursor = PageCursor.parse(page.next.token())
    assert sorted(m.id for m in seen) == sorted(m.id for m in stored)
    keys = [(m.created_at, m.id) for m in seen]
    assert keys == sorted(keys, reverse=True)


async def test_outcomes_are_counted_per_utc_hour_whatever_the_offset_given(
    outbox: SqlOutboxRepository, report: SqlDeliveryReport
) -> None:
    seven = datetime(2026, 11, 28, 7, 5, tzinfo=UTC)
    await put(outbox, seven, "sent")
    await put(outbox, seven + timedelta(minutes=50), "sent", attempts=3)
    await put(outbox, seven.astimezone(timezone(timedelta(hours=2))) + timedelta(minutes=54), "dead")
    await put(outbox, datetime(2026, 11, 28, 8, 0, tzinfo=UTC), "dead", attempts=2)
    await put(outbox, datetime(2026, 11, 20, 8, 0, tzinfo=UTC), "dead")  # before `since`
    found = await report.hourly(datetime(2026, 11, 21, 9, 0, tzinfo=UTC))
    assert found == [
        HourOutcomes(datetime(2026, 11, 28, 7, tzinfo=UTC), sent=2, retried=1, dead=1),
        HourOutcomes(datetime(2026, 11, 28, 8, tzinfo=UTC), sent=0, retried=1, dead=1),
    ]
    hours = await DeliveryOverviewService(report, outbox, clock=lambda: NOW).hourly(days=7)
    assert len(hours) == 168 and hours[-1].hour == datetime(2026, 11, 28, 8, tzinfo=UTC)
    assert sum(h.dead for h in hours) == 2 and sum(h.sent for h in hours) == 2


async def test_dead_of_the_last_day_and_the_health_counts(
    outbox: SqlOutboxRepository, report: SqlDeliveryReport
) -> None:
    await put(outbox, NOW - timedelta(hours=23), "dead")
    await put(outbox, NOW - timedelta(hours=25), "dead")
    await put(outbox, NOW, "queued")
    await put(outbox, NOW, "retry_wait")
    counts = await DeliveryOverviewService(report, outbox, clock=lambda: NOW).counts()
    assert (counts.queued, counts.retrying, counts.waiting_config, counts.dead_last_day) == (1, 1, 0, 1)


async def test_cancel_gives_up_queued_and_retrying_messages_only(outbox: SqlOutboxRepository) -> None:
    queued = await put(outbox, NOW, "queued")
    retrying = await put(outbox, NOW, "retry_wait")
    sent = await put(outbox, NOW, "sent")
    for message in (queued, retrying):
        cancelled = await outbox.cancel(message.id, NOW)
        assert (cancelled.status, cancelled.next_attempt_at, cancelled.last_error) == (
            "dead",
            None,
            CANCELLED,
        )
    with pytest.raises(ConflictError, match="is sent: only queued or retrying messages cancel"):
        await outbox.cancel(sent.id, NOW)
    with pytest.raises(NotFoundError):
        await outbox.cancel("nope", NOW)
    assert (await outbox.retry(queued.id, NOW)).status == "queued"  # a cancelled message can be retried


@pytest.mark.parametrize("token", ["", "x", "2026-11-28T08:00:00|", "2026-11-28T08:00:00|abc", "nope|abc"])
def test_a_cursor_that_is_not_one_is_refused(token: str) -> None:
    with pytest.raises(ValueError):
        PageCursor.parse(token)


async def test_outcomes_are_counted_per_utc_day(
    outbox: SqlOutboxRepository, report: SqlDeliveryReport
) -> None:
    await put(outbox, datetime(2026, 11, 27, 0, 0, tzinfo=UTC), "sent")
    await put(outbox, datetime(2026, 11, 27, 23, 59, tzinfo=UTC), "dead", attempts=2)
    await put(outbox, datetime(2026, 11, 28, 0, 0, tzinfo=UTC), "sent")
    found = await report.daily(datetime(2026, 11, 1, tzinfo=UTC))
    assert found == [
        HourOutcomes(datetime(2026, 11, 27, tzinfo=UTC), sent=1, retried=1, dead=1),
        HourOutcomes(datetime(2026, 11, 28, tzinfo=UTC), sent=1, retried=0, dead=0),
    ]
    days = await DeliveryOverviewService(report, outbox, clock=lambda: NOW).daily(30)
    assert len(days) == 30 and days[-1].hour == datetime(2026, 11, 28, tzinfo=UTC)
    assert sum(d.sent for d in days) == 2


async def test_dead_messages_are_counted_by_when_they_died_not_when_they_were_queued(
    outbox: SqlOutboxRepository, report: SqlDeliveryReport
) -> None:
    # Queued three days ago, dead an hour ago (its lifetime ran out): dead in the last 24 h.
    await put(outbox, NOW - timedelta(days=3), "dead", dead_at=NOW - timedelta(hours=1))
    # Queued 30 h ago and dead 25 h ago: not in the last 24 h.
    await put(outbox, NOW - timedelta(hours=30), "dead", dead_at=NOW - timedelta(hours=25))
    counts = await DeliveryOverviewService(report, outbox, clock=lambda: NOW).counts()
    assert counts.dead_last_day == 1
    hours = await report.hourly(NOW - timedelta(days=2))
    assert [(h.hour, h.sent, h.dead) for h in hours] == [
        (datetime(2026, 11, 27, 2, tzinfo=UTC), 0, 0),  # queued then, dead in a later hour
        (datetime(2026, 11, 27, 7, tzinfo=UTC), 0, 1),  # dead then (the other was queued before `since`)
        (datetime(2026, 11, 28, 7, tzinfo=UTC), 0, 1),
    ]


async def test_every_path_to_dead_sets_dead_at_and_a_retry_by_hand_clears_it(
    outbox: SqlOutboxRepository, report: SqlDeliveryReport
) -> None:
    lease = timedelta(minutes=1)
    failed, refused, cancelled = [await put(outbox, NOW - timedelta(days=2), "queued") for _ in range(3)]
    await outbox.cancel(cancelled.id, NOW - timedelta(minutes=3))
    await outbox.claim("worker", NOW - timedelta(minutes=2), lease, limit=10)
    assert await give_up(outbox, failed.id, "worker", NOW - timedelta(minutes=2), "expired", "expired")
    claimed = await outbox.get(refused.id)
    assert claimed is not None
    settled = settle_recipients(
        claimed,
        {"ops@example.com": UNKNOWN_USER},
        policy=RetryPolicy(),
        now=NOW - timedelta(minutes=1),
        random_fraction=0,
    )
    await outbox.mark_recipients(
        refused.id,
        "worker",
        settled,
        now=NOW - timedelta(minutes=1),
        last_error="x",
        last_category="smtp_recipient",
    )
    died = {m.id: m.dead_at for m in await outbox.list(status="dead")}
    assert died == {
        cancelled.id: NOW - timedelta(minutes=3),
        failed.id: NOW - timedelta(minutes=2),
        refused.id: NOW - timedelta(minutes=1),
    }
    assert await report.count_dead_since(NOW - timedelta(minutes=2)) == 2
    await outbox.retry(failed.id, NOW)
    assert (await outbox.get(failed.id)).dead_at is None  # type: ignore[union-attr]
    assert await report.count_dead_since(NOW - timedelta(days=1)) == 2


async def test_each_refused_recipient_keeps_its_own_reply(outbox: SqlOutboxRepository) -> None:
    message = new_outbox_message(
        event_type="test",
        recipients=["got@example.com", "busy@example.com", "gone@example.com"],
        subject="s",
        text="t",
        html="h",
        from_address="alerts@example.com",
        now=NOW,
        policy=RetryPolicy(),
    )
    await outbox.enqueue(message)
    (claimed,) = await outbox.claim("worker", NOW, timedelta(minutes=1), limit=1)
    busy = RecipientReply(452, "4.2.2 <busy@example.com>: mailbox full")
    refused = {"busy@example.com": busy, "gone@example.com": UNKNOWN_USER}
    settled = settle_recipients(claimed, refused, policy=RetryPolicy(), now=NOW, random_fraction=0)
    await outbox.mark_recipients(
        claimed.id, "worker", settled, now=NOW, last_error="both refused", last_category="smtp_recipient"
    )
    stored = await outbox.get(claimed.id)
    assert stored is not None
    assert [(o.address, o.state, o.reply) for o in stored.recipient_outcomes] == [
        ("got@example.com", "sent", None),
        ("busy@example.com", "pending", busy),
        ("gone@example.com", "dead", UNKNOWN_USER),
    ]


async def test_event_pages_walk_every_event_once_newest_first_within_the_filter(database: Database) -> None:
    events = SqlEventRepository(database.sessionmaker, dialect=database.dialect)
    raised = [
        Event(f"e-{n:02d}", "test" if n % 3 else "other", {}, f"k{n}", "t", NOW - timedelta(seconds=n // 4))
        for n in range(30)
    ]
    await events.record_many(raised, window=timedelta(minutes=10), max_mailed_keys=100, make_messages=nobody)
    seen: list[str] = []
    cursor: PageCursor | None = None
    while True:
        found = await events.list(event_type="test", before=cursor, limit=4)
        seen += [stored.event.id for stored in found]
        if len(found) < 4:
            break
        cursor = PageCursor(found[-1].event.received_at, found[-1].event.id)
    expected = sorted((e for e in raised if e.event_type == "test"), key=lambda e: (e.received_at, e.id))
    assert seen == [e.id for e in reversed(expected)]


async def nobody(events: list[Event]) -> list[OutboxMessage | None]:
    return [None for _ in events]


def _old_rows(connection: Connection) -> None:
    """Rows as version 0014 wrote them: three dead messages, one of them with Mail Server Logs entries."""
    outbox = table(
        "outbox",
        *(column(name) for name in ("id", "event_type", "dedupe_key", "subject", "text", "html")),
        *(column(name) for name in ("message_id", "status", "attempts", "last_error", "last_category")),
        column("recipients", JSON),
        *(column(name, DateTime(timezone=True)) for name in ("created_at", "expires_at")),
    )
    for id, status in (("tried", "dead"), ("cancelled", "dead"), ("alive", "retry_wait")):
        connection.execute(
            insert(outbox).values(
                id=id,
                event_type="test",
                dedupe_key="",
                subject="s",
                text="t",
                html="h",
                message_id=f"<{id}@example.com>",
                status=status,
                attempts=1,
                last_error="",
                last_category="",
                recipients=["ops@example.com"],
                created_at=NOW - timedelta(days=2),
                expires_at=NOW,
            )
        )
    log = table(
        "mail_server_log",
        *(column(name) for name in ("auth_type", "status", "category", "retryable", "message", "hint")),
        *(column(name) for name in ("detail", "context", "node")),
        column("settings_snapshot", JSON),
        column("registered_at", DateTime(timezone=True)),
    )
    for context, minutes_ago in (
        ("outbox tried (test)", 90),
        ("outbox tried (test) to ops@example.com", 30),  # the newest: its last attempt
        ("outbox alive (test)", 5),
        ("test e-mail to ops@example.com", 1),
    ):
        connection.execute(
            insert(log).values(
                auth_type="none",
                status="error",
                category="smtp_recipient",
                retryable=False,
                message="m",
                hint="h",
                detail="",
                context=context,
                node="",
                settings_snapshot={},
                registered_at=NOW - timedelta(minutes=minutes_ago),
            )
        )


async def test_the_migration_dates_dead_messages_by_their_last_attempt_else_when_queued(
    database_url: str,
) -> None:
    await upgrade_to(database_url, "0014")
    async with Database.from_url(database_url) as database:
        async with database.engine.begin() as connection:
            await connection.run_sync(_old_rows)
        await database.upgrade()
        outbox = SqlOutboxRepository(database.sessionmaker, dialect=database.dialect)
        found = {m.id: (m.dead_at, dict(m.recipient_replies)) for m in await outbox.list()}
    assert found == {
        "tried": (NOW - timedelta(minutes=30), {}),
        "cancelled": (NOW - timedelta(days=2), {}),  # no attempt on record: when it was queued
        "alive": (None, {}),
    }
