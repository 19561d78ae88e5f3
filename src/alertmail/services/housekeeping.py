"""Old records purged once a day, and mail that waits too long made visible.

Purging is idempotent, so it needs no claim: the primary runs it once a day (a restart may run it
again, which deletes nothing new). Sent messages and events go after `retention`, Mail Server Logs
after `log_retention`; mail still queued, waiting or dead-lettered is never purged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from alertmail.domain.ports import RetentionRepository
from alertmail.services.clock import Clock, utc_now

__all__ = ["Housekeeping", "RetentionOptions"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionOptions:
    retention: timedelta = timedelta(days=30)
    log_retention: timedelta = timedelta(days=180)
    stuck_after: timedelta = timedelta(hours=1)


class Housekeeping:
    def __init__(
        self, retention: RetentionRepository, options: RetentionOptions, *, clock: Clock = utc_now
    ) -> None:
        self._retention = retention
        self._options = options
        self._clock = clock
        self._purged_on: date | None = None

    async def purge_daily(self) -> dict[str, int] | None:
        """Purge unless this process already did today; what was purged."""
        now = self._clock()
        if self._purged_on == now.date():
            return None
        purged = await self._retention.purge(
            records_before=now - self._options.retention, logs_before=now - self._options.log_retention
        )
        self._purged_on = now.date()
        logger.info("housekeeping purged %s", purged)
        return purged

    async def stuck(self) -> dict[str, int]:
        """Per status, the messages that have waited on configuration or retries past the threshold."""
        return await self._retention.stuck(waiting_since=self._clock() - self._options.stuck_after)
