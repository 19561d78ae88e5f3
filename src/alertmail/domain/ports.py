"""The ports: what services need from the outside world. Adapters implement them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol

from alertmail.domain.records import (
    Administrator,
    ApiToken,
    AuditEntry,
    MailLogEntry,
    StoredSettings,
)
from alertmail.domain.settings import MailSettings

__all__ = [
    "AdministratorRepository",
    "ApiTokenRepository",
    "AuditRepository",
    "MailLogFile",
    "MailLogRepository",
    "MailTransport",
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
