"""The daily keep-alive: a refresh at least once a day, so inactivity alone never kills a token.

Microsoft's refresh tokens die after 90 days unused and Google's after 6 months; an appliance that
mails rarely would lose its sign-in without this. A failed keep-alive is logged in Mail Server Logs
like a failed send, so a dead sign-in is seen before an alert needs to go out.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from alertmail.domain.classification import classify
from alertmail.domain.ports import SettingsRepository
from alertmail.errors import OAuthError
from alertmail.services.clock import Clock, utc_now
from alertmail.services.oauth_tokens import OAuthTokenService
from alertmail.services.sending import MailSendingService

__all__ = ["OAuthKeepAlive"]

logger = logging.getLogger("alertmail.oauth")

_CONTEXT = "OAuth2 keep-alive"


class OAuthKeepAlive:
    def __init__(
        self,
        settings: SettingsRepository,
        tokens: OAuthTokenService,
        sending: MailSendingService,
        *,
        interval: timedelta = timedelta(hours=24),
        clock: Clock = utc_now,
    ) -> None:
        self._settings = settings
        self._tokens = tokens
        self._sending = sending
        self._interval = interval
        self._clock = clock

    async def run_once(self) -> bool:
        """Refresh when the last refresh is older than the interval; True when it refreshed."""
        stored = await self._settings.load()
        settings = stored.settings
        if (
            stored.version == 0
            or settings.auth_type != "oauth2"
            or settings.oauth_grant != "authorization_code"
        ):
            return False
        status = await self._tokens.status(settings)
        if status.health.state in ("not_authorized", "reauthorization_required"):
            return False  # nothing to keep alive; the status already asks for a sign-in
        last = status.refreshed_at or status.obtained_at
        if last is not None and self._clock() - last < self._interval:
            return False
        try:
            await self._tokens.refresh(settings)
        except OAuthError as error:
            await self._sending.record_failure(error, classify(error), settings, context=_CONTEXT)
            return False
        return True

    async def run_forever(self, *, check_every: timedelta = timedelta(hours=1)) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # the loop must outlive a database hiccup; the next check retries
                logger.exception("OAuth2 keep-alive check failed")
            await asyncio.sleep(check_every.total_seconds())
