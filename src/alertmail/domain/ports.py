"""The ports: what services need from the outside world. Adapters implement them."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol

from alertmail.domain.oauth import OAuthTokens, PendingAuthorization, TokenGrant
from alertmail.domain.records import (
    Administrator,
    ApiToken,
    AuditEntry,
    MailLogEntry,
    StoredSettings,
)
from alertmail.domain.settings import MailSettings

__all__ = [
    "AccessTokenSource",
    "AdministratorRepository",
    "ApiTokenRepository",
    "AuditRepository",
    "MailLogFile",
    "MailLogRepository",
    "MailTransport",
    "OAuthAuthorizationRepository",
    "OAuthClient",
    "OAuthTokenRepository",
    "SecretBox",
    "SettingsRepository",
]


class MailTransport(Protocol):
    """Hands one message to the relay or the local MTA, or raises a `TransportError`."""

    async def send(
        self, message: EmailMessage, recipients: Sequence[str], settings: MailSettings
    ) -> None: ...


class SecretBox(Protocol):
    """Symmetric encryption for secrets at rest. Tokens are opaque text safe to store."""

    def encrypt(self, plaintext: str) -> str: ...

    def decrypt(self, token: str) -> str: ...


class SettingsRepository(Protocol):
    async def load(self) -> StoredSettings: ...

    async def save(
        self, settings: MailSettings, *, expected_version: int, actor: str, audit: AuditEntry
    ) -> StoredSettings:
        """Store a new version and its audit entry in one transaction.

        Raises `ConflictError` when the stored version is no longer `expected_version`.
        """
        ...


class MailLogRepository(Protocol):
    async def add(self, entry: MailLogEntry) -> MailLogEntry: ...

    async def list(
        self, *, limit: int = 100, category: str | None = None, since: datetime | None = None
    ) -> Sequence[MailLogEntry]:
        """Newest first."""
        ...


class MailLogFile(Protocol):
    """The supplemental log file on disk (`<data dir>/logs/mail.log`)."""

    def write(self, entry: MailLogEntry) -> None: ...


class AdministratorRepository(Protocol):
    async def add(self, username: str, email: str | None, password_hash: str) -> Administrator: ...

    async def get(self, username: str) -> Administrator | None: ...

    async def password_hash(self, username: str) -> str | None: ...

    async def list(self) -> Sequence[Administrator]: ...

    async def set_email(self, username: str, email: str | None) -> None: ...


class ApiTokenRepository(Protocol):
    async def add(self, name: str, administrator: str, token_hash: str) -> ApiToken: ...

    async def find(self, token_hash: str) -> ApiToken | None:
        """The token with this hash, its `last_used_at` touched, or None."""
        ...


class AuditRepository(Protocol):
    async def list(self, *, limit: int = 100) -> Sequence[AuditEntry]: ...


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

    async def preflight(self, authorization_url: str) -> None:
        """Ask the authorization endpoint without a browser; raise `OAuthError` when it refuses the
        request outright (unknown client, redirect URI mismatch), which it would otherwise only
        show on its own page and never send back to the callback."""
        ...

    async def exchange_code(
        self, settings: MailSettings, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenGrant: ...

    async def refresh(self, settings: MailSettings, refresh_token: str) -> TokenGrant: ...

    async def client_credentials(self, settings: MailSettings) -> TokenGrant: ...


class OAuthTokenRepository(Protocol):
    """The one set of tokens of the configured account; secrets encrypted at rest."""

    async def load(self) -> OAuthTokens | None: ...

    async def save(self, tokens: OAuthTokens) -> None: ...

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
