"""The Delivery page's reading of the outbox: the health counts, a page of messages, outcomes per hour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from alertmail.domain.delivery_report import HourOutcomes, KeysetPage, PageCursor, page_size
from alertmail.domain.outbox import OutboxMessage, OutboxStatus
from alertmail.domain.ports import DeliveryReportRepository, OutboxRepository
from alertmail.services.clock import Clock, utc_now

__all__ = ["DeliveryCounts", "DeliveryOverviewService"]


@dataclass(frozen=True)
class DeliveryCounts:
    queued: int
    retrying: int
    waiting_config: int
    dead_last_day: int  # messages that became dead in the last 24 hours, whenever queued


class DeliveryOverviewService:
    def __init__(
        self, report: DeliveryReportRepository, outbox: OutboxRepository, *, clock: Clock = utc_now
    ) -> None:
        self._report = report
        self._outbox = outbox
        self._clock = clock

    async def counts(self) -> DeliveryCounts:
        by_status = await self._outbox.counts()
        day_ago = self._clock() - timedelta(hours=24)
        return DeliveryCounts(
            queued=by_status["queued"] + by_status["sending"],
            retrying=by_status["retry_wait"],
            waiting_config=by_status["waiting_config"],
            dead_last_day=await self._report.count_dead_since(day_ago),
        )

    async def messages(
        self,
        status: OutboxStatus | None = None,
        before: PageCursor | None = None,
        limit: int = 25,
        created: tuple[datetime | None, datetime | None] = (None, None),
    ) -> KeysetPage[OutboxMessage]:
        """Newest first; `created`: queued from (inclusive) to (exclusive), None for an open end."""
        size = page_size(limit)
        found = await self._report.page(status=status, before=before, limit=size + 1, created=created)
        return KeysetPage.of(found, size, lambda message: PageCursor(message.created_at, message.id))

    async def hourly(self, days: int = 7) -> list[HourOutcomes]:
        """Every hour of the last `days` days, oldest first, hours without messages at zero."""
        now = self._clock()
        first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=24 * days - 1)
        found = {outcome.hour: outcome for outcome in await self._report.hourly(first)}
        hours = (first + timedelta(hours=n) for n in range(24 * days))
        return [found.get(hour, HourOutcomes(hour)) for hour in hours]

    async def daily(self, days: int = 30) -> list[HourOutcomes]:
        """Every UTC day of the last `days` days (today included), oldest first, empty days at zero."""
        first = self._clock().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
        found = {outcome.hour: outcome for outcome in await self._report.daily(first)}
        return [found.get(day, HourOutcomes(day)) for day in (first + timedelta(days=n) for n in range(days))]
