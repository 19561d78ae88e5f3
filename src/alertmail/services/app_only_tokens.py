"""App-only access tokens held in memory only: the fallback transport's, apart from the primary's.

The primary's tokens live in the one stored token row (`OAuthTokenService`): a sign-in, or the
primary's app-only token. A Graph fallback signs in with its own app, so its tokens must never
touch that row (a fallback token written there would replace the primary's sign-in). An app-only
token is cheap to ask for again and needs no refresh token, so it is kept in this process only,
keyed by everything that decides what the token is for: token endpoint, client ID, scope, and a
digest of the client secret (a new secret gets a new token; the secret itself is not kept here).
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime, timedelta

from alertmail.domain.ports import OAuthClient
from alertmail.domain.settings import MailSettings
from alertmail.errors import OAuthError
from alertmail.services.clock import Clock, utc_now
from alertmail.services.oauth_tokens import DEFAULT_REFRESH_MARGIN

__all__ = ["AppOnlyTokens"]

_Key = tuple[str, str, str, str]


class AppOnlyTokens:
    """Implements the `AccessTokenSource` port for client credentials only."""

    def __init__(
        self,
        client: OAuthClient,
        *,
        refresh_margin: timedelta = DEFAULT_REFRESH_MARGIN,
        clock: Clock = utc_now,
    ) -> None:
        self._client = client
        self._margin = refresh_margin
        self._clock = clock
        self._lock = asyncio.Lock()
        self._tokens: dict[_Key, tuple[str, datetime | None]] = {}
        self.requests = 0  # token requests made, for tests

    async def access_token(self, settings: MailSettings, *, force_refresh: bool = False) -> str:
        if settings.oauth_grant != "client_credentials":
            raise OAuthError(
                "not_authorized",
                "the fallback signs in app-only (client credentials) and only so",
                stage="stored",
                host=settings.hostname,
            )
        key = _key(settings)
        async with self._lock:  # one request at a time: the others reuse its token
            held = self._tokens.get(key)
            if held is not None and not force_refresh and self._fresh(held[1]):
                return held[0]
            self.requests += 1
            grant = await self._client.client_credentials(settings)
            now = self._clock()
            expires = None if grant.expires_in is None else now + timedelta(seconds=grant.expires_in)
            token = grant.access_token.get_secret_value()
            self._tokens[key] = (token, expires)
            return token

    async def token_accepted(self, settings: MailSettings) -> None:
        return None  # nothing stored, nothing to record

    def _fresh(self, expires: datetime | None) -> bool:
        return expires is None or expires - self._clock() > self._margin


def _key(settings: MailSettings) -> _Key:
    secret = settings.client_secret.get_secret_value() if settings.client_secret else ""
    digest = hashlib.sha256(secret.encode()).hexdigest()
    return (settings.token_endpoint, settings.client_id, settings.scopes, digest)
