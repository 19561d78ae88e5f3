"""Timed jobs: coalescing digests, the daily communication notice, the OAuth2 keep-alive and health.

Each job's "once" is claimed in the database (`scheduler_runs`), not remembered in memory, so a
restart does not repeat the daily notice and several nodes do not send one each.

The daily notice goes at the configured time of day in the appliance's time zone, or within
`daily_grace` after it (a restart at 08:02 still sends the 08:00 notice; one at 17:00 does not).
Sending it needs a working relay and, with OAuth2, a token: it is the keep-alive that proves mail
works end to end, and the token refresh it causes keeps the sign-in alive too.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, time, timedelta, tzinfo

from alertmail.domain.ports import OutboxRepository, SchedulerRunRepository, SettingsRepository
from alertmail.domain.settings import MailSettings
from alertmail.services.clock import Clock, utc_now
from alertmail.services.notifications import NotificationService
from alertmail.services.oauth_keepalive import OAuthKeepAlive
from alertmail.services.oauth_tokens import OAuthTokenService

__all__ = ["Scheduler", "daily_notice_due"]

logger = logging.getLogger(__name__)


def daily_notice_due(now: datetime, at: str, timezone: tzinfo, grace: timedelta) -> date | None:
    """The local date whose notice is due at `now`, or None: due from `at` until `at + grace`."""
    local = now.astimezone(timezone)
    hour, minute = (int(part) for part in at.split(":"))
    scheduled = datetime.combine(local.date(), time(hour, minute), tzinfo=timezone)
    if scheduled <= local < scheduled + grace:
        return local.date()
    return None


class Scheduler:
    def __init__(
        self,
        settings: SettingsRepository,
        notifications: NotificationService,
        runs: SchedulerRunRepository,
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
        self._runs = runs
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
        if due is None or not await self._runs.claim(
            "daily_notice", due.isoformat(), now=now, node=self._node
        ):
            return False
        counts = await self._outbox.counts()
        await self._notifications.raise_event(
            "daily_notice",
            {
                "date": due.isoformat(),
                "scheduled_time": f"{settings.daily_notice_time} {self._timezone}",
                "queued": counts["queued"] + counts["retry_wait"] + counts["sending"],
                "waiting_for_configuration": counts["waiting_config"],
                "dead_lettered": counts["dead"],
            },
            dedupe_key=due.isoformat(),
            source="scheduler",
        )
        return True

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
        if not await self._runs.claim(event_type, incident, now=self._clock(), node=self._node):
            return
        details: dict[str, str] = {"account": status.account, "reason": status.health.reason}
        if status.health.risk:
            details["risk"] = status.health.risk
        if status.last_error_code:
            details["provider_code"] = status.last_error_code
        await self._notifications.raise_event(event_type, details, dedupe_key=incident, source="scheduler")
