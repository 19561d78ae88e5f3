"""What administrators do with the outbox: look at it, and send a dead or held message again."""

from __future__ import annotations

from collections.abc import Callable

from alertmail.domain.outbox import OutboxMessage, OutboxStatus
from alertmail.domain.ports import OutboxRepository
from alertmail.errors import NotFoundError
from alertmail.services.clock import Clock, utc_now

__all__ = ["OutboxService"]


class OutboxService:
    def __init__(
        self, outbox: OutboxRepository, *, on_queued: Callable[[], None] | None = None, clock: Clock = utc_now
    ) -> None:
        self._outbox = outbox
        self._on_queued = on_queued
        self._clock = clock

    async def list(self, status: OutboxStatus | None = None, limit: int = 100) -> list[OutboxMessage]:
        return await self._outbox.list(status, limit)

    async def get(self, id: str) -> OutboxMessage:
        found = await self._outbox.get(id)
        if found is None:
            raise NotFoundError(f"There is no outbox message {id!r}")
        return found

    async def counts(self) -> dict[OutboxStatus, int]:
        return await self._outbox.counts()

    async def retry(self, id: str) -> OutboxMessage:
        """Queue a dead or held message again, now; `ConflictError` for any other status."""
        message = await self._outbox.retry(id, self._clock())
        if self._on_queued is not None:
            self._on_queued()
        return message

    async def cancel(self, id: str) -> OutboxMessage:
        """Give up a queued or retrying message (it becomes dead); `ConflictError` for any other status."""
        return await self._outbox.cancel(id, self._clock())
