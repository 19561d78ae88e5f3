"""The ports: what services need from the outside world. Adapters implement them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol

from alertmail.domain.api_tokens import TokenScope
from alertmail.domain.cluster_ports import (
    ClusterNode,
    ClusterObserver,
    NetworkInterfaces,
    NodeCheckRepository,
    NodeRepository,
    NodeRole,
    PrimaryLock,
    Prober,
    WebSession,
    WebSessionRepository,
)
from alertmail.domain.delivery_ports import (
    DeliveryObserver,
    DeliveryReportRepository,
    EventRenderer,
    EventRepository,
    OutboxRepository,
    RetentionRepository,
)
from alertmail.domain.oauth_ports import (
    AccessTokenSource,
    OAuthAuthorizationRepository,
    OAuthClient,
    OAuthTokenRepository,
    TokenInfoSource,
)
from alertmail.domain.records import (
    Administrator,
    ApiToken,
    AuditEntry,
    MailLogEntry,
    StoredSettings,
)
from alertmail.domain.settings import MailSettings
from alertmail.errors import TransportError

__all__ = [
    "AccessTokenSource",
    "AdministratorRepository",
    "ApiTokenRepository",
    "AuditRepository",
    "ClusterNode",
    "ClusterObserver",
    "DeliveryObserver",
    "DeliveryReportRepository",
    "EventRenderer",
    "EventRepository",
    "GenerationRepository",
    "MailLogFile",
    "MailLogRepository",
    "MailSession",
    "MailTransport",
    "NetworkInterfaces",
    "NodeCheckRepository",
    "NodeRepository",
    "NodeRole",
    "OAuthAuthorizationRepository",
    "OAuthClient",
    "OAuthTokenRepository",
    "OutboxRepository",
    "PrimaryLock",
    "Prober",
    "RetentionRepository",
    "SecretBox",
    "SettingsRepository",
    "TokenInfoSource",
    "WebSession",
    "WebSessionRepository",
]


class MailSession(Protocol):
    """A connection to the relay, opened and authenticated once, that sends message after message."""

    @property
    def usable(self) -> bool: ...

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> Mapping[str, TransportError]:
        """Send to the recipients the relay accepts; the refused ones and the reply to each."""
        ...

    async def close(self) -> None: ...


class MailTransport(Protocol):
    """Hands messages to the relay or the local MTA, or raises a `TransportError`."""

    async def send(
        self, message: EmailMessage, recipients: Sequence[str], settings: MailSettings
    ) -> None: ...

    async def open_session(self, settings: MailSettings) -> MailSession: ...


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
        self,
        *,
        limit: int = 100,
        category: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
    ) -> Sequence[MailLogEntry]:
        """Newest first; `since` inclusive, `until` exclusive; skip the first `offset` entries."""
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

    async def set_password_hash(self, username: str, password_hash: str) -> None: ...

    async def remove(self, username: str) -> None:
        """Remove an administrator (their API tokens and web sessions go with them).

        Raises `NotFoundError` for an unknown one and `ConflictError` for the last one: an appliance
        nobody can sign in to is worse than one administrator too many.
        """
        ...


class ApiTokenRepository(Protocol):
    async def add(
        self,
        name: str,
        administrator: str,
        token_hash: str,
        *,
        scope: TokenScope = "admin",
        expires_at: datetime | None = None,
    ) -> ApiToken:
        """Raises `ConflictError` when a token of that name exists, `NotFoundError` for no such owner."""
        ...

    async def find(self, token_hash: str) -> ApiToken | None:
        """The token with this hash, its `last_used_at` touched, or None (expired ones too)."""
        ...

    async def list(self) -> Sequence[ApiToken]: ...

    async def remove(self, name: str) -> None:
        """Revoke: the row goes, so the token matches nothing. `NotFoundError` for no such name."""
        ...


class GenerationRepository(Protocol):
    """A counter every change to cached data bumps (in the change's own transaction)."""

    async def current(self) -> int: ...


class AuditRepository(Protocol):
    async def list(self, *, limit: int = 100) -> Sequence[AuditEntry]: ...
