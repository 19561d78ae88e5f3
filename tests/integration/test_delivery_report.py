"""The Delivery page's queries on SQLite and PostgreSQL: keyset pages newest first through ties,
outcomes per UTC hour, dead messages of the last day, and cancel."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.delivery_report import SqlDeliveryReport
from alertmail.adapters.storage.outbox_repository import CANCELLED, SqlOutboxRepository
from alertmail.domain.delivery_report import HourOutcomes, MessageCursor
from alertmail.domain.outbox import OutboxMessage, OutboxStatus, RetryPolicy, new_outbox_message
from alertmail.errors import ConflictError, NotFoundError
from alertmail.services.delivery_overview import DeliveryOverviewService

NOW = datetime(2026, 11, 28, 8, 30, tzinfo=UTC)


@pytest.fixture
def outbox(database: Database) -> SqlOutboxRepository:
    return SqlOutboxRepository(database.sessionmaker, dialect=database.dialect)


@pytest.fixture
def report(database: Database) -> SqlDeliveryReport:
    return SqlDeliveryReport(database.sessionmaker, dialect=database.dialect)


async def put(
    outbox: SqlOutboxRepository, created_at: datetime, status: OutboxStatus = "sent", attempts: int = 1
) -> OutboxMessage:
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
    return await outbox.enqueue(replace(message, status=status, attempts=attempts))


async def test_pages_walk_every_message_once_newest_first_even_through_equal_times(
    outbox: SqlOutboxRepository, report: SqlDeliveryReport
) -> None:
    stored = [await put(outbox, NOW - timedelta(seconds=n // 3)) for n in range(20)]
    service = DeliveryOverviewService(report, outbox, clock=lambda: NOW)
    seen: list[OutboxMessage] = []
    cursor: MessageCursor | None = None
    while True:
        page = await service.messages(before=cursor, limit=4)
        seen += page.messages
        if page.next is None:
            break
        cursor = MessageCursor.parse(page.next.token())
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
        MessageCursor.parse(token)


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
