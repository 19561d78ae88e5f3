"""Plain records that cross the port boundary: stored settings, log entries, administrators."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alertmail.domain.api_tokens import TokenScope
from alertmail.domain.settings import MailSettings

__all__ = ["Administrator", "ApiToken", "AuditEntry", "MailLogEntry", "StoredSettings"]


@dataclass(frozen=True)
class StoredSettings:
    """The settings in force and which save produced them (version 0: never saved)."""

    settings: MailSettings
    version: int
    updated_at: datetime | None = None
    updated_by: str | None = None


@dataclass(frozen=True)
class MailLogEntry:
    """One failed send attempt, as Mail Server Logs show it. Holds no secret by construction."""

    registered_at: datetime
    auth_type: str
    status: str
    category: str
    retryable: bool
    message: str
    hint: str
    settings_snapshot: dict[str, Any]
    smtp_code: int | None = None
    enhanced_code: str | None = None
    provider_code: str | None = None
    detail: str = ""
    context: str = ""  # what was being sent: "test e-mail", an outbox message id, ...
    node: str = ""
    # What a provider's support desk asks for: trace and correlation IDs, timestamps, the
    # provider's own error description (see `classification.support_details`).
    support_details: dict[str, str] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True)
class Administrator:
    username: str
    email: str | None
    created_at: datetime
    id: int | None = None


@dataclass(frozen=True)
class ApiToken:
    """A bearer token as stored: its name, owner, scope and expiry, never the token itself."""

    name: str
    administrator: str
    created_at: datetime
    last_used_at: datetime | None = None
    id: int | None = None
    scope: TokenScope = "admin"
    expires_at: datetime | None = None  # None: never

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class AuditEntry:
    """Who changed what and when. `details` names fields and non-secret values only."""

    actor: str
    action: str
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
