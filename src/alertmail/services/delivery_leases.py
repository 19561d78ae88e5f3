"""Keeping the leases of a batch in flight: renewed every third of the lease while it is sent.

A batch on a slow relay can take longer than the lease (100 messages at 3.5 s each outlive two
minutes); without renewal another worker would claim the rest and send it again. A renewal that
finds leases already gone is logged; the loss is counted when the outcome is recorded
(`Outcomes.lease_check`), once per message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

from alertmail.domain.ports import OutboxRepository
from alertmail.services.clock import Clock

__all__ = ["LeaseKeeper"]

logger = logging.getLogger(__name__)


class LeaseKeeper:
    def __init__(self, outbox: OutboxRepository, owner: str, *, lease: timedelta, clock: Clock) -> None:
        self._outbox = outbox
        self._owner = owner
        self._lease = lease
        self._clock = clock

    @asynccontextmanager
    async def held(self, ids: Sequence[str]) -> AsyncIterator[None]:
        """Renew the leases of `ids` until the block ends."""
        renewing = asyncio.create_task(self._renew(list(ids)), name="delivery-leases")
        try:
            yield
        finally:
            renewing.cancel()
            with suppress(asyncio.CancelledError):
                await renewing

    async def _renew(self, ids: list[str]) -> None:
        interval = self._lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                held = await self._outbox.renew_leases(ids, self._owner, self._clock() + self._lease)
            except Exception:
                # The database may be briefly unreachable: the next renewal may still be in time.
                logger.exception("delivery: renewing the leases of %d message(s) failed", len(ids))
                continue
            if held < len(ids):
                logger.warning(
                    "delivery: %d of %d message(s) in flight lost their lease before it was renewed",
                    len(ids) - held,
                    len(ids),
                )
