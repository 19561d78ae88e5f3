"""The tables, as SQLAlchemy 2 declarative models. `migrations/` creates exactly these.

Free text the administrator types is `Text`: PostgreSQL enforces a `VARCHAR(n)` length and SQLite
ignores it, so a limit would make the two databases behave differently. `String(n)` is kept for
values from a closed set (encryption, auth type, categories).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false

__all__ = [
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

# Named constraints let future migrations on SQLite (batch mode) find and alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored and returned in UTC on both databases.

    SQLite keeps no offset and hands back naive values; storing UTC and labelling it on the way out
    makes `since` filters and comparisons agree with PostgreSQL's `timestamptz`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"refusing to store a naive datetime ({value.isoformat()}): give it a tz")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class MailSettingsRow(Base):
    """The one row of mail settings (id 1). `password` and `client_secret` hold ciphertext."""

    __tablename__ = "mail_settings"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    from_address: Mapped[str] = mapped_column(Text)
    email_type: Mapped[str] = mapped_column(String(16))
    hostname: Mapped[str] = mapped_column(Text)
    port: Mapped[int] = mapped_column(Integer)
    encryption: Mapped[str] = mapped_column(String(16))
    auth_type: Mapped[str] = mapped_column(String(16))
    username: Mapped[str] = mapped_column(Text)
    password: Mapped[str | None] = mapped_column(Text)
    oauth_provider: Mapped[str | None] = mapped_column(String(16))
    tenant_id: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str] = mapped_column(Text)
    client_secret: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[str] = mapped_column(Text)
    authorization_endpoint: Mapped[str] = mapped_column(Text)
    token_endpoint: Mapped[str] = mapped_column(Text)
    device_authorization_endpoint: Mapped[str] = mapped_column(Text, server_default="")
    redirect_uri: Mapped[str] = mapped_column(Text)
    oauth_grant: Mapped[str] = mapped_column(String(32), server_default="authorization_code")
    oauth_app_testing: Mapped[bool] = mapped_column(Boolean, server_default=false())
    admin_contacts: Mapped[list[str]] = mapped_column(JSON)
    daily_notice: Mapped[bool] = mapped_column(Boolean)
    daily_notice_time: Mapped[str] = mapped_column(String(5))
    send_test_on_save: Mapped[bool] = mapped_column(Boolean)
    tls_trusted_ca: Mapped[str] = mapped_column(Text)
    connect_timeout: Mapped[float] = mapped_column(Float)
    max_connections: Mapped[int] = mapped_column(Integer, server_default="3")
    messages_per_minute: Mapped[int] = mapped_column(Integer, server_default="0")
    allow_plaintext_auth: Mapped[bool] = mapped_column(Boolean, server_default=false())
    graph_endpoint: Mapped[str] = mapped_column(Text, server_default="https://graph.microsoft.com")
    gmail_endpoint: Mapped[str] = mapped_column(Text, server_default="https://gmail.googleapis.com")
    fallback_email_type: Mapped[str] = mapped_column(String(16), server_default="none")
    fallback_hostname: Mapped[str] = mapped_column(Text, server_default="")
    fallback_port: Mapped[int] = mapped_column(Integer, server_default="587")
    fallback_encryption: Mapped[str] = mapped_column(String(16), server_default="starttls")
    fallback_auth_type: Mapped[str] = mapped_column(String(16), server_default="none")
    fallback_username: Mapped[str] = mapped_column(Text, server_default="")
    fallback_password: Mapped[str | None] = mapped_column(Text)
    fallback_after_minutes: Mapped[int] = mapped_column(Integer, server_default="10")
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(Text)


class AuditLogRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class MailServerLogRow(Base):
    """One failed send attempt as Mail Server Logs show it. Holds no secret by construction."""

    __tablename__ = "mail_server_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    auth_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32), index=True)
    retryable: Mapped[bool] = mapped_column(Boolean)
    message: Mapped[str] = mapped_column(Text)
    hint: Mapped[str] = mapped_column(Text)
    settings_snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    smtp_code: Mapped[int | None] = mapped_column(Integer)
    enhanced_code: Mapped[str | None] = mapped_column(String(16))
    provider_code: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    context: Mapped[str] = mapped_column(Text)
    node: Mapped[str] = mapped_column(Text)
    support_details: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")


class AdministratorRow(Base):
    __tablename__ = "administrators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(Text, unique=True)
    email: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ApiTokenRow(Base):
    """An API bearer token. Only its hash is kept: the token itself is shown once, at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)  # `alertmail token revoke NAME`
    administrator_id: Mapped[int] = mapped_column(
        ForeignKey("administrators.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    scope: Mapped[str] = mapped_column(String(16), server_default="admin")  # `events` | `admin`
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # None: never


class CacheGenerationRow(Base):
    """A counter bumped by every change that invalidates what processes cache (migration 0012).

    `credentials`: API tokens and administrators; a process caching them reads this one row to
    know whether another process (or node) changed them since.
    """

    __tablename__ = "cache_generations"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer)


class OAuthTokenRow(Base):
    """The one set of OAuth2 tokens (id 1). `access_token` and `refresh_token` hold ciphertext."""

    __tablename__ = "oauth_tokens"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    grant: Mapped[str] = mapped_column(String(32))
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    access_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    obtained_at: Mapped[datetime] = mapped_column(UtcDateTime)
    client_id: Mapped[str] = mapped_column(Text)
    token_endpoint: Mapped[str] = mapped_column(Text)
    account: Mapped[str] = mapped_column(Text)
    refreshed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reauthorization_required: Mapped[bool] = mapped_column(Boolean)
    last_error: Mapped[str] = mapped_column(Text)
    last_error_code: Mapped[str] = mapped_column(String(64))
    last_error_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Bumped by every write of new tokens, each a compare-and-set on it: a row never goes back.
    generation: Mapped[int] = mapped_column(Integer, server_default="0")


class OAuthAuthorizationRow(Base):
    """A sign-in in progress. The state is kept as its SHA-256, the PKCE verifier as ciphertext."""

    __tablename__ = "oauth_authorizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_verifier: Mapped[str] = mapped_column(Text)
    administrator: Mapped[str] = mapped_column(Text)
    redirect_uri: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)


class OAuthDeviceSignInRow(Base):
    """The one device-code sign-in (id 1): in progress, or the last one finished. `device_code`
    holds ciphertext: until it expires it can be exchanged for the mailbox's tokens."""

    __tablename__ = "oauth_device_sign_in"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    attempt: Mapped[str] = mapped_column(String(64))
    administrator: Mapped[str] = mapped_column(Text)
    device_code: Mapped[str] = mapped_column(Text)
    user_code: Mapped[str] = mapped_column(Text)
    verification_uri: Mapped[str] = mapped_column(Text)
    verification_uri_complete: Mapped[str] = mapped_column(Text)
    interval: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    held_until: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)


class OutboxRow(Base):
    """One e-mail to send (see `alertmail.domain.outbox`). A message is accepted once this is committed."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        # The Delivery page: pages newest first, of one status or all; the chart reads only this index.
        Index("ix_outbox_status_created_at", "status", "created_at"),
        Index("ix_outbox_created_at_status_attempts", "created_at", "status", "attempts"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(Text)
    recipients: Mapped[list[str]] = mapped_column(JSON)
    subject: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lease_owner: Mapped[str | None] = mapped_column(Text)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    last_error: Mapped[str] = mapped_column(Text)
    last_category: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Where it came from: "event", "digest", "sendmail", "smtp-listener".
    source: Mapped[str] = mapped_column(String(32), server_default="event")
    # A message a local program submitted, kept as it came (RFC 5322 text); None for our own.
    raw: Mapped[str | None] = mapped_column(Text)
    # Each recipient's outcome once an attempt reached only some ({address: sent|pending|dead}).
    recipient_states: Mapped[dict[str, str]] = mapped_column(JSON, server_default="{}")
    # Each refused recipient's own last reply ({address: {"code": 550 | null, "text": "..."}}).
    recipient_replies: Mapped[dict[str, dict[str, Any]]] = mapped_column(JSON, server_default="{}")
    # When it became dead; NULL whenever it is not (a retry by hand clears it). The Delivery page
    # counts "dead in the last 24 h" and the chart's dead series by it.
    dead_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    # What a `waiting_config` message was refused under: released once either has changed.
    waiting_settings_version: Mapped[int | None] = mapped_column(Integer)
    waiting_sign_in: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Which transport sent it ("primary" or "fallback"); "" until sent.
    transport: Mapped[str] = mapped_column(String(16), server_default="")


class EventRow(Base):
    """One event raised by the appliance, whether it was mailed at once or folded into a digest."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_event_type_received_at", "event_type", "received_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(Text)
    node: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    window_id: Mapped[int | None] = mapped_column(Integer)
    # The e-mail that carried it: its own, or the digest it was folded into (set when that is queued).
    outbox_id: Mapped[str | None] = mapped_column(String(36))
    disposition: Mapped[str] = mapped_column(String(16))  # mailed | coalesced | no_recipients


class EventWindowRow(Base):
    """Repeats of one event type and dedupe key inside one coalescing window (a fixed time bucket)."""

    __tablename__ = "event_windows"
    __table_args__ = (
        UniqueConstraint("event_type", "dedupe_key", "bucket_start"),
        Index("ix_event_windows_digest_due", "digest_pending", "closes_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(Text)
    bucket_start: Mapped[datetime] = mapped_column(UtcDateTime)
    closes_at: Mapped[datetime] = mapped_column(UtcDateTime)
    count: Mapped[int] = mapped_column(Integer)
    coalesced: Mapped[int] = mapped_column(Integer)  # events not mailed at once: the digest's news
    first_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime)
    mailed: Mapped[bool] = mapped_column(Boolean)  # its first event went out at once
    digest_pending: Mapped[bool] = mapped_column(Boolean)


class LeaseRow(Base):
    """A named lock with an expiry: one holder at a time across processes, freed by time if it dies."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PacingBucketRow(Base):
    """A pacing bucket (see domain/pacing.py): the row its takers lock on PostgreSQL, one at a time."""

    __tablename__ = "pacing_buckets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)


class PacingTokenRow(Base):
    """A pacing token taken (busy until `free_at`), or a taker waiting for one since `created_at`
    (bucket `<bucket>:wanted`, alive until `free_at`); rows past it are deleted by the next taker."""

    __tablename__ = "pacing_tokens"
    __table_args__ = (Index("ix_pacing_tokens_bucket_free_at", "bucket", "free_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(32))
    holder: Mapped[str] = mapped_column(Text)
    free_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SchedulerRunRow(Base):
    """A scheduled job's run, one row per period: the primary key makes "once a day" hold cluster-wide."""

    __tablename__ = "scheduler_runs"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(64), primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UtcDateTime)
    node: Mapped[str] = mapped_column(Text)


class WebSessionRow(Base):
    """A signed-in browser. Only the SHA-256 of the session cookie's value is kept."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    administrator_id: Mapped[int] = mapped_column(
        ForeignKey("administrators.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    user_agent: Mapped[str] = mapped_column(Text)


class NodeRow(Base):
    """One alertmail node on the shared database: who it is, and when it last said it was alive."""

    __tablename__ = "nodes"

    node_id: Mapped[str] = mapped_column(Text, primary_key=True)
    hostname: Mapped[str] = mapped_column(Text)
    advertised_url: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(32))  # primary-capable | traffic
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_heartbeat: Mapped[datetime] = mapped_column(UtcDateTime)
    # What the node last reported; the advisory lock, not this column, decides who is primary.
    is_primary: Mapped[bool] = mapped_column(Boolean)
    promote_requested: Mapped[bool] = mapped_column(Boolean, server_default=false())
    backup_disabled_since: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The process holding this name (NULL once it stopped cleanly): a second live one is refused.
    instance_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # PostgreSQL: the backend pid of the connection holding the primary's lock, the one fence target.
    lock_session: Mapped[int | None] = mapped_column(Integer, nullable=True)


class TransportStateRow(Base):
    """Which transport every node sends through (id 1; see domain/fallback.py). Switched by
    compare-and-set on `generation`, in the transaction that also records the switch's notice."""

    __tablename__ = "transport_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    active: Mapped[str] = mapped_column(String(16))  # primary | fallback
    active_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    primary_failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    primary_last_failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    failure_category: Mapped[str] = mapped_column(String(32))
    failure_message: Mapped[str] = mapped_column(Text)
    failure_hint: Mapped[str] = mapped_column(Text)
    next_probe_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    generation: Mapped[int] = mapped_column(Integer)


class NodeCheckRow(Base):
    """A node's latest result of one failover check, and the incident it is in (or was last in)."""

    __tablename__ = "node_checks"

    node_id: Mapped[str] = mapped_column(Text, primary_key=True)
    check_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    failing: Mapped[bool] = mapped_column(Boolean)
    since: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    failures: Mapped[int] = mapped_column(Integer)
    mailed: Mapped[bool] = mapped_column(Boolean)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
