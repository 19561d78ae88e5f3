"""The OAuth2 ports: tokens, sign-ins and the provider client.

Re-exported by `alertmail.domain.ports`; kept apart so that module stays readable."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from alertmail.domain.oauth import OAuthTokens, PendingAuthorization, TokenGrant
from alertmail.domain.settings import MailSettings

__all__ = [
    "AccessTokenSource",
    "OAuthAuthorizationRepository",
    "OAuthClient",
    "OAuthTokenRepository",
    "TokenInfoSource",
]


# --- OAuth2 ---------------------------------------------------------------------------------------


class AccessTokenSource(Protocol):
    """What the SMTP transport asks for an access token right before AUTH XOAUTH2."""

    async def access_token(self, settings: MailSettings, *, force_refresh: bool = False) -> str:
        """A current access token for `settings`, refreshed ahead of expiry; raises `OAuthError`.

        `force_refresh`: the relay refused the token it was given; get a new one if one can be had.
        """
        ...

    async def token_accepted(self, settings: MailSettings) -> None:
        """The relay accepted the token: the sign-in works end to end."""
        ...


class OAuthClient(Protocol):
    """The provider's authorization and token endpoints. Errors are raised as `OAuthError`."""

    def authorization_url(
        self, settings: MailSettings, *, redirect_uri: str, state: str, code_verifier: str
    ) -> str:
        """The URL to send the browser to: code flow with PKCE S256."""
        ...

    async def preflight(self, authorization_url: str, *, time_limit: float | None = None) -> None:
        """Ask the authorization endpoint without a browser; raise `OAuthError` when it refuses the
        request outright (unknown client, redirect URI mismatch), which it would otherwise only
        show on its own page and never send back to the callback. `time_limit`: the whole request."""
        ...

    async def exchange_code(
        self, settings: MailSettings, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenGrant: ...

    async def refresh(self, settings: MailSettings, refresh_token: str) -> TokenGrant: ...

    async def client_credentials(self, settings: MailSettings) -> TokenGrant: ...


class TokenInfoSource(Protocol):
    """A provider's own account of an access token it cannot be read from (Google's are opaque)."""

    async def google_token_info(self, settings: MailSettings, access_token: str) -> Mapping[str, object]:
        """Google's token-info answer (`aud`, `scope`, `exp`, ...); raises `OAuthError`."""
        ...


class OAuthTokenRepository(Protocol):
    """The one set of tokens of the configured account; secrets encrypted at rest."""

    async def load(self) -> OAuthTokens | None: ...

    async def save(self, tokens: OAuthTokens) -> OAuthTokens:
        """Store new tokens whatever is stored (a sign-in); returned with their new generation."""
        ...

    async def save_if_current(self, tokens: OAuthTokens) -> OAuthTokens | None:
        """Compare-and-set: store only if the row is still at `tokens.generation`; None if it moved."""
        ...

    async def mark_accepted(self, generation: int, at: datetime) -> None:
        """The relay accepted the access token of `generation`: recorded if that is still stored."""
        ...

    async def delete(self) -> None: ...

    def refresh_lock(self) -> AbstractAsyncContextManager[None]:
        """Held while refreshing, so that processes sharing the database refresh one at a time."""
        ...


class OAuthAuthorizationRepository(Protocol):
    """Sign-ins in progress. The state is stored hashed and the PKCE verifier encrypted."""

    async def add(self, pending: PendingAuthorization) -> None: ...

    async def claim(self, state: str, now: datetime) -> PendingAuthorization | None:
        """Atomically mark a pending, unexpired sign-in as claimed and return it; None when the
        state is unknown, already used or expired. A state can be claimed once."""
        ...

    async def finish(self, state: str, *, succeeded: bool, message: str, reason: str) -> None: ...

    async def get(self, state: str) -> PendingAuthorization | None: ...
