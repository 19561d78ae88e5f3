"""Access tokens for sending: refreshed ahead of expiry, one refresh at a time, never a dead one retried.

The SMTP transport asks `access_token(settings)` right before AUTH. While the stored access token
has more than `refresh_margin` left it is returned as is: a thousand sends cost no refresh. Past
that, one coroutine refreshes under a lock (and under a lock in the database shared by every process
and node); the others wait and reuse its result. The rotated refresh token is stored every time.

Every write of new tokens is a compare-and-set on the row's generation, so the row only moves
forward: a refresh that finishes after a new sign-in does not overwrite it, and recording that the
relay accepted a token touches nothing but that.

When the provider says the refresh token is dead (`oauth_reauth`), the tokens are marked
`reauthorization_required` and later sends fail at once from what is stored, without asking the
provider again, until the administrator signs in again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from alertmail.domain.classification import classify
from alertmail.domain.oauth import (
    OAuthTokens,
    TokenGrant,
    TokenHealth,
    settings_changed_since_sign_in,
    token_health,
)
from alertmail.domain.ports import OAuthClient, OAuthTokenRepository
from alertmail.domain.settings import MailSettings
from alertmail.domain.token_checks import for_another_audience
from alertmail.errors import OAuthError
from alertmail.services.clock import Clock, utc_now

__all__ = ["OAuthStatus", "OAuthTokenService"]

logger = logging.getLogger("alertmail.oauth")

DEFAULT_REFRESH_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class OAuthStatus:
    """Token health plus what is known about the sign-in. Holds no token."""

    health: TokenHealth
    grant: str = ""
    account: str = ""
    obtained_at: datetime | None = None
    refreshed_at: datetime | None = None
    accepted_at: datetime | None = None
    last_error: str = ""
    last_error_code: str = ""
    last_error_at: datetime | None = None


class OAuthTokenService:
    """Implements the `AccessTokenSource` port for the SMTP transport."""

    def __init__(
        self,
        tokens: OAuthTokenRepository,
        client: OAuthClient,
        *,
        refresh_margin: timedelta = DEFAULT_REFRESH_MARGIN,
        clock: Clock = utc_now,
        on_refresh: Callable[[str], None] | None = None,
    ) -> None:
        self._tokens = tokens
        self._client = client
        self._margin = refresh_margin
        self._clock = clock
        self._lock = asyncio.Lock()
        self.refreshes = 0  # token requests made, for tests and metrics
        self._on_refresh = on_refresh  # told each request's reason (see `_count_refresh`)
        # The token last handed out and the one last recorded as accepted: a relay accepting the
        # same token again needs no database round trip on the send path.
        self._handed: str | None = None
        self._recorded_accepted: str | None = None

    async def access_token(self, settings: MailSettings, *, force_refresh: bool = False) -> str:
        self._handed = await self._current_token(settings, force_refresh=force_refresh)
        return self._handed

    async def _current_token(self, settings: MailSettings, *, force_refresh: bool) -> str:
        tokens = await self._tokens.load()
        if settings.oauth_grant == "client_credentials":
            return await self._app_only_token(settings, tokens, force_refresh=force_refresh)
        usable = _usable(tokens, settings)
        if not force_refresh and self._fresh(usable):
            return usable.access_token.get_secret_value()
        rejected = usable.access_token.get_secret_value() if force_refresh else None
        return (await self._refresh_once(settings, rejected)).access_token.get_secret_value()

    async def token_accepted(self, settings: MailSettings) -> None:
        handed = self._handed
        if handed is not None and handed == self._recorded_accepted:
            return
        tokens = await self._tokens.load()
        if tokens is None:
            return
        issued = tokens.refreshed_at or tokens.obtained_at
        if tokens.accepted_at is None or tokens.accepted_at < issued:  # one write per new token
            # Only the acceptance, and only on the generation read: never the whole row, which a
            # refresh or a sign-in may have replaced since (its tokens would be written back).
            await self._tokens.mark_accepted(tokens.generation, self._clock())
        self._recorded_accepted = handed

    async def refresh(self, settings: MailSettings) -> OAuthTokens:
        """Refresh now, whatever the expiry: the daily keep-alive and `alertmail oauth refresh`."""
        if settings.oauth_grant == "client_credentials":
            async with self._lock, self._tokens.refresh_lock():
                return await self._fetch_app_only(settings, await self._tokens.load())
        async with self._lock, self._tokens.refresh_lock():
            current = _usable(await self._tokens.load(), settings)
            return await self._refresh(settings, current, reason="requested")

    async def store_sign_in(self, settings: MailSettings, grant: TokenGrant, *, account: str) -> OAuthTokens:
        now = self._clock()
        tokens = OAuthTokens(
            grant="authorization_code",
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            access_expires_at=self._expiry(grant, now),
            obtained_at=now,
            client_id=settings.client_id,
            token_endpoint=settings.token_endpoint,
            account=account,
        )
        # A sign-in is the newest word whatever is stored: a refresh still in flight then fails
        # its compare-and-set and leaves these alone.
        return await self._tokens.save(tokens)

    async def sign_out(self) -> None:
        await self._tokens.delete()

    async def status(self, settings: MailSettings) -> OAuthStatus:
        tokens = await self._tokens.load()
        health = token_health(tokens, settings, self._clock())
        if tokens is None:
            return OAuthStatus(health)
        return OAuthStatus(
            health,
            grant=tokens.grant,
            account=tokens.account,
            obtained_at=tokens.obtained_at,
            refreshed_at=tokens.refreshed_at,
            accepted_at=tokens.accepted_at,
            last_error=tokens.last_error,
            last_error_code=tokens.last_error_code,
            last_error_at=tokens.last_error_at,
        )

    # --- refreshing -------------------------------------------------------------------------

    async def _refresh_once(self, settings: MailSettings, rejected: str | None) -> OAuthTokens:
        async with self._lock, self._tokens.refresh_lock():
            # Whoever held the lock before may have refreshed already: read again, here or on another node.
            current = _usable(await self._tokens.load(), settings)
            still_rejected = rejected is not None and current.access_token.get_secret_value() == rejected
            if self._fresh(current) and not still_rejected:
                return current
            return await self._refresh(settings, current, reason="rejected" if still_rejected else "expiring")

    async def _refresh(self, settings: MailSettings, current: OAuthTokens, *, reason: str) -> OAuthTokens:
        if current.refresh_token is None:
            raise await self._dead(
                current,
                OAuthError(
                    "invalid_grant",
                    "no refresh token was issued at sign-in, and the access token has expired",
                    stage="refresh",
                ),
            )
        self._count_refresh(reason)
        try:
            grant = await self._client.refresh(settings, current.refresh_token.get_secret_value())
        except OAuthError as error:
            raise await self._dead(current, error) from None
        now = self._clock()
        refreshed = replace(
            current,
            access_token=grant.access_token,
            # Microsoft rotates the refresh token on every use: the old one must not be kept.
            refresh_token=grant.refresh_token or current.refresh_token,
            access_expires_at=self._expiry(grant, now),
            refreshed_at=now,
            last_error="",
            last_error_code="",
            last_error_at=None,
        )
        return await self._store(settings, refreshed)

    async def _store(self, settings: MailSettings, tokens: OAuthTokens) -> OAuthTokens:
        """Compare-and-set on the generation read; if a sign-in replaced the row meanwhile, it wins."""
        saved = await self._tokens.save_if_current(tokens)
        if saved is not None:
            return saved
        logger.warning("the OAuth2 tokens changed during a refresh (a new sign-in): keeping the new ones")
        return _usable(await self._tokens.load(), settings)

    async def _dead(self, current: OAuthTokens, error: OAuthError) -> OAuthError:
        """Record a failed refresh on the tokens; a dead refresh token stops further attempts."""
        classification = classify(error)
        # Compare-and-set: a sign-in that landed meanwhile is not to be marked dead.
        await self._tokens.save_if_current(
            replace(
                current,
                reauthorization_required=classification.category == "oauth_reauth",
                last_error=classification.message,
                last_error_code=classification.provider_code or "",
                last_error_at=self._clock(),
            )
        )
        return error

    async def _app_only_token(
        self, settings: MailSettings, tokens: OAuthTokens | None, *, force_refresh: bool
    ) -> str:
        if not force_refresh and self._app_only_reusable(tokens, settings) and tokens is not None:
            return tokens.access_token.get_secret_value()
        async with self._lock, self._tokens.refresh_lock():
            current = await self._tokens.load()  # someone may have fetched one while we waited
            rejected = tokens.access_token if tokens is not None and force_refresh else None
            if (
                current is not None
                and self._app_only_reusable(current, settings)
                and current.access_token != rejected
            ):
                return current.access_token.get_secret_value()
            return (await self._fetch_app_only(settings, current)).access_token.get_secret_value()

    def _app_only_reusable(self, tokens: OAuthTokens | None, settings: MailSettings) -> bool:
        return (
            tokens is not None
            and tokens.grant == "client_credentials"
            and self._fresh(tokens)
            and not settings_changed_since_sign_in(tokens, settings)
            # After a switch between SMTP and Graph the cached token is for the other resource.
            and not for_another_audience(tokens.access_token.get_secret_value(), settings)
        )

    async def _fetch_app_only(self, settings: MailSettings, tokens: OAuthTokens | None) -> OAuthTokens:
        """Ask for an app-only token; the caller holds the locks."""
        self._count_refresh("app_only")
        grant = await self._client.client_credentials(settings)
        now = self._clock()
        first = tokens.obtained_at if tokens is not None and tokens.grant == "client_credentials" else now
        fetched = OAuthTokens(
            grant="client_credentials",
            access_token=grant.access_token,
            refresh_token=None,
            access_expires_at=self._expiry(grant, now),
            obtained_at=first,
            refreshed_at=now,
            client_id=settings.client_id,
            token_endpoint=settings.token_endpoint,
            account=settings.username,
            generation=0 if tokens is None else tokens.generation,
        )
        saved = await self._tokens.save_if_current(fetched)
        return fetched if saved is None else saved  # a newer row: use this token once, keep that

    def _count_refresh(self, reason: str) -> None:
        """Count a request to the provider: `/metrics` shows whether any is made while the access
        token is still valid (only `requested` ones should be)."""
        self.refreshes += 1
        if self._on_refresh is not None:
            self._on_refresh(reason)

    def _fresh(self, tokens: OAuthTokens) -> bool:
        expires = tokens.access_expires_at
        return expires is None or expires - self._clock() > self._margin

    def _expiry(self, grant: TokenGrant, now: datetime) -> datetime | None:
        return None if grant.expires_in is None else now + timedelta(seconds=grant.expires_in)


def _usable(tokens: OAuthTokens | None, settings: MailSettings) -> OAuthTokens:
    """The stored tokens, or the `OAuthError` that explains why there are none to use."""
    if tokens is None or tokens.grant != "authorization_code":
        raise OAuthError(
            "not_authorized",
            "OAuth2 is configured but nobody has signed in to the provider yet",
            stage="stored",
            host=settings.hostname,
            port=settings.port,
        )
    if tokens.reauthorization_required:
        raise OAuthError(
            "reauthorization_required",
            tokens.last_error or "the refresh token no longer works",
            stage="stored",
            provider_code=tokens.last_error_code or None,
            host=settings.hostname,
            port=settings.port,
        )
    if settings_changed_since_sign_in(tokens, settings):
        raise OAuthError(
            "reauthorization_required",
            "the client ID or token endpoint changed since the last sign-in",
            stage="stored",
            host=settings.hostname,
            port=settings.port,
        )
    return tokens
