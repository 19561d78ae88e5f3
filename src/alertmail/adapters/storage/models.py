"""The tables, as SQLAlchemy 2 declarative models. `migrations/` creates exactly these.

Free text the administrator types is `Text`: PostgreSQL enforces a `VARCHAR(n)` length and SQLite
ignores it, so a limit would make the two databases behave differently. `String(n)` is kept for
values from a closed set (encryption, auth type, categories).

Split by concern (each module under the 400-line limit); import from here, as before:
`models_base` (the base and `UtcDateTime`), `models_settings` (settings, administrators, sign-ins,
tokens, logs), `models_outbox` (outbox, events, leases, pacing, scheduler) and `models_cluster`
(nodes, failover checks, transport state).
"""

from __future__ import annotations

from alertmail.adapters.storage.models_base import NAMING_CONVENTION, Base, UtcDateTime
from alertmail.adapters.storage.models_cluster import NodeCheckRow, NodeRow, TransportStateRow
from alertmail.adapters.storage.models_outbox import (
    EventRow,
    EventWindowRow,
    LeaseRow,
    OutboxRow,
    PacingBucketRow,
    PacingTokenRow,
    SchedulerRunRow,
)
from alertmail.adapters.storage.models_settings import (
    AdministratorRow,
    ApiTokenRow,
    AuditLogRow,
    CacheGenerationRow,
    MailServerLogRow,
    MailSettingsRow,
    OAuthAuthorizationRow,
    OAuthDeviceSignInRow,
    OAuthTokenRow,
    WebSessionRow,
)

__all__ = [
    "NAMING_CONVENTION",
    "AdministratorRow",
    "ApiTokenRow",
    "AuditLogRow",
    "Base",
    "CacheGenerationRow",
    "EventRow",
    "EventWindowRow",
    "LeaseRow",
    "MailServerLogRow",
    "MailSettingsRow",
    "NodeCheckRow",
    "NodeRow",
    "OAuthAuthorizationRow",
    "OAuthDeviceSignInRow",
    "OAuthTokenRow",
    "OutboxRow",
    "PacingBucketRow",
    "PacingTokenRow",
    "SchedulerRunRow",
    "TransportStateRow",
    "UtcDateTime",
    "WebSessionRow",
]
