"""The delivery ports: the outbox, events, their report and retention.

Re-exported by `alertmail.domain.ports`; kept apart so that module stays readable."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from alertmail.domain.delivery_report import HourOutcomes, PageCursor
from alertmail.domain.events import Digest, Event, EventRecorded, EventType, RenderedMail, StoredEvent
from alertmail.domain.fallback import TransportSwitch
from alertmail.domain.outbox import (
    FailureStatus,
    HeldStatus,
    OutboxMessage,
    OutboxStatus,
    RecipientsSettled,
    WaitingFor,
)
from alertmail.domain.schedule import RunClaim

__all__ = [
    "DeliveryObserver",
    "DeliveryReportRepository",
    "EventRenderer",
    "EventRepository",
    "OutboxRepository",
    "RetentionRepository",
]


class OutboxRepository(Protocol):
    """The outbox's storage (see `alertmail.domain.outbox` for the states)."""

    async def enqueue(self, message: OutboxMessage) -> OutboxMessage: ...

    async def enqueue_many(self, messages: Sequence[OutboxMessage]) -> list[OutboxMessage]:
        """One transaction for them all; accepted once it returns."""
        ...

    async def claim(self, owner: str, now: datetime, lease: timedelta, limit: int) -> list[OutboxMessage]: ...

    async def mark_sent_many(
        self, ids: Sequence[str], owner: str, now: datetime, *, transport: str = "primary"
    ) -> int: ...

    async def mark_failed(
        self,
        id: str,
        owner: str,
        *,
        now: datetime,
        status: FailureStatus,
        next_attempt_at: datetime | None,
        last_error: str,
        last_category: str,
        waiting_for: WaitingFor | None = None,
    ) -> bool: ...

    async def mark_recipients(
        self,
        id: str,
        owner: str,
        settled: RecipientsSettled,
        *,
        now: datetime,
        last_error: str,
        last_category: str,
        transport: str = "primary",
    ) -> bool: ...

    async def release_unattempted(
        self,
        ids: Sequence[str],
        owner: str,
        *,
        status: HeldStatus,
        next_attempt_at: datetime | None,
        waiting_for: WaitingFor | None = None,
    ) -> int: ...

    async def renew_leases(self, ids: Sequence[str], owner: str, until: datetime) -> int: ...

    async def release_waiting(self, now: datetime) -> int: ...

    async def release_retrying(self, now: datetime) -> int: ...

    async def release_changed(self, now: datetime, current: WaitingFor) -> int: ...

    async def retry(self, id: str, now: datetime) -> OutboxMessage: ...

    async def get(self, id: str) -> OutboxMessage | None: ...

    async def list(self, status: OutboxStatus | None = None, limit: int = 100) -> list[OutboxMessage]: ...

    async def counts(self) -> dict[OutboxStatus, int]: ...

    async def cancel(self, id: str, now: datetime) -> OutboxMessage:
        """A queued or retrying message given up by hand (dead); `ConflictError` for any other status."""
        ...


class DeliveryReportRepository(Protocol):
    """The outbox as the Delivery page reads it: pages on indexed columns, counts, outcomes per hour."""

    async def page(
        self,
        *,
        status: OutboxStatus | None,
        before: PageCursor | None,
        limit: int,
        created: tuple[datetime | None, datetime | None] = (None, None),
    ) -> list[OutboxMessage]:
        """Newest first (created_at, then id, both descending), strictly after `before`; queued
        within `created` (from inclusive, to exclusive; None leaves that end open)."""
        ...

    async def count_dead_since(self, since: datetime) -> int:
        """Messages that became dead at `since` or later (by `dead_at`, not by when they were queued)."""
        ...

    async def hourly(self, since: datetime) -> list[HourOutcomes]:
        """Hours since `since` in which a message was queued or became dead, oldest first: sent and
        retried count the messages queued in the hour, dead those that became dead in it."""
        ...

    async def daily(self, since: datetime) -> list[HourOutcomes]:
        """The same per UTC day (`hour` is then the day's midnight)."""
        ...


class DeliveryObserver(Protocol):
    """What the delivery worker reports as it goes (metrics)."""

    def sent(self, count: int, latencies: Sequence[float]) -> None: ...

    def failed(self, category: str) -> None: ...

    def retry_scheduled(self) -> None: ...

    def dead_lettered(self) -> None: ...

    def lease_lost(self, count: int) -> None: ...


class EventRepository(Protocol):
    """Events, their coalescing windows and the outbox rows they cause, written together."""

    async def record_many(
        self,
        events: Sequence[Event],
        *,
        window: timedelta,
        max_mailed_keys: int,
        make_messages: Callable[[list[Event]], Awaitable[list[OutboxMessage | None]]],
        claim: RunClaim | TransportSwitch | None = None,
    ) -> list[EventRecorded]:
        """One transaction for the batch; the results in the order of `events`.

        With `claim`: written first in the same transaction; `AlreadyClaimedError` (nothing
        written) when the job already ran for that period."""
        ...

    async def take_due_digests(
        self, now: datetime, build: Callable[[Digest], OutboxMessage | None], *, limit: int = 50
    ) -> int: ...

    async def list(
        self,
        *,
        event_type: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        disposition: str | None = None,
        before: PageCursor | None = None,
    ) -> list[StoredEvent]:
        """Newest first (received_at, then id, both descending), strictly after `before`."""
        ...

    async def count(self, *, event_type: str | None = None) -> int: ...


class RetentionRepository(Protocol):
    """Housekeeping: purge what is old enough, count mail that has waited too long."""

    async def purge(self, *, records_before: datetime, logs_before: datetime) -> dict[str, int]: ...

    async def stuck(self, *, waiting_since: datetime) -> dict[str, int]: ...


class EventRenderer(Protocol):
    """Turns an event, or a window's repeats, into the e-mail's subject, text and HTML."""

    def render_event(self, event_type: EventType, event: Event) -> RenderedMail: ...

    def render_digest(self, event_type: EventType, digest: Digest) -> RenderedMail: ...

    def custom_templates(self) -> list[str]:
        """The administrator's own templates, by name: only these can fail (the package's are tested)."""
        ...
