"""Timed jobs: coalescing digests, the daily communication notice, the OAuth2 keep-alive and health.

Each job's "once" is claimed in the database (`scheduler_runs`), not remembered in memory, so a
restart does not repeat the daily notice and several nodes do not send one each. The claim is
written in the same transaction as the event and its e-mail (`NotificationService.raise_once`): a
failure in between leaves neither, and the next tick tries again.

The daily notice goes at the configured time of day in the appliance's time zone, or within
`daily_grace` after it (a restart at 08:02 still sends the 08:00 notice; one at 17:00 does not);
days on which that time does not exist or occurs twice: see `domain/schedule.py`.
Sending it needs a working relay and, with OAuth2, a token: it is the keep-alive that proves mail
works end to end, and the token refresh it causes keeps the sign-in alive too.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, tzinfo
from typing import Any

from alertmail.domain.ports import OutboxRepository, SettingsRepository
from alertmail.domain.schedule import RunClaim, daily_notice_due
from alertmail.domain.settings import MailSettings
from alertmail.services.clock import Clock, utc_now
from alertmail.services.notifications import NotificationService
from alertmail.services.oauth_keepalive import OAuthKeepAlive
from alertmail.services.oauth_tokens import OAuthTokenService

__all__ = ["Scheduler"]

logger = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        settings: SettingsRepository,
        notifications: NotificationService,
        outbox: OutboxRepository,
        keepalive: OAuthKeepAlive,
        tokens: OAuthTokenService,
        *,
        timezone: tzinfo,
        node: str,
        tick: float = 15.0,
        daily_grace: timedelta = timedelta(hours=1),
        keepalive_every: timedelta = timedelta(hours=1),
        clock: Clock = utc_now,
    ) -> None:
        self._settings = settings
        self._notifications = notifications
        self._outbox = outbox
        self._keepalive = keepalive
        self._tokens = tokens
        self._timezone = timezone
        self._node = node
        self._tick = tick
        self._daily_grace = daily_grace
        self._keepalive_every = keepalive_every
        self._clock = clock
        self._keepalive_last: datetime | None = None
        self._claimed: set[tuple[str, str]] = set()  # seen claimed: not asked again (the DB decides)

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a database hiccup must not end the schedule; the next tick retries
                logger.exception("scheduler tick failed; trying again at the next tick")
            await asyncio.sleep(self._tick)

    async def run_once(self) -> None:
        await self._notifications.flush_digests()
        settings = (await self._settings.load()).settings
        await self.daily_notice(settings)
        if settings.auth_type == "oauth2":
            await self._oauth(settings)

    async def daily_notice(self, settings: MailSettings) -> bool:
        """Raise today's daily notice if it is due and no node has yet; True when this call did."""
        if not settings.daily_notice:
            return False
        now = self._clock()
        due = daily_notice_due(now, settings.daily_notice_time, self._timezone, self._daily_grace)
        if due is None or ("daily_notice", due.isoformat()) in self._claimed:
            return False
        counts = await self._outbox.counts()
        details = {
            "date": due.isoformat(),
            "scheduled_time": f"{settings.daily_notice_time} {self._timezone}",
            "queued": counts["queued"] + counts["retry_wait"] + counts["sending"],
            "waiting_for_configuration": counts["waiting_config"],
            "dead_lettered": counts["dead"],
        }
        return await self._raise_once("daily_notice", due.isoformat(), details, dedupe_key=due.isoformat())

    async def _raise_once(self, job: str, period: str, details: dict[str, Any], *, dedupe_key: str) -> bool:
        """Raise `job`'s event for `period` unless some node has: claim and e-mail commit together."""
        claim = RunClaim(job, period, self._node, self._clock())
        recorded = await self._notifications.raise_once(
            claim, job, details, dedupe_key=dedupe_key, source="scheduler"
        )
        self._claimed.add((job, period))
        return recorded is not None

    async def _oauth(self, settings: MailSettings) -> None:
        now = self._clock()
        if self._keepalive_last is None or now - self._keepalive_last >= self._keepalive_every:
            self._keepalive_last = now
            await self._keepalive.run_once()
        await self.oauth_health(settings)

    async def oauth_health(self, settings: MailSettings) -> None:
        """Raise the OAuth2 events once per sign-in that is expiring or needs re-authorization."""
        status = await self._tokens.status(settings)
        state = status.health.state
        if state not in ("expiring", "reauthorization_required") or status.obtained_at is None:
            return
        event_type = "oauth.token_expiring" if state == "expiring" else "oauth.reauthorization_required"
        incident = status.obtained_at.isoformat()  # a new sign-in is a new incident
        if (event_type, incident) in self._claimed:
            return
        details: dict[str, str] = {"account": status.account, "reason": status.health.reason}
        if status.health.risk:
            details["risk"] = status.health.risk
        if status.last_error_code:
            details["provider_code"] = status.last_error_code
        await self._raise_once(event_type, incident, details, dedupe_key=incident)
