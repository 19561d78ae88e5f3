"""Settings, administrators, sign-ins and their tokens, the audit trail and Mail Server Logs (models.py)."""

# No `from __future__ import annotations`: SQLAlchemy reads every `Mapped[...]` at each start, and
# objects cost it less than strings to evaluate (6 ms over the three models modules).

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from alertmail.adapters.storage.models_base import Base, UtcDateTime

__all__ = [
    "AdministratorRow",
    "ApiTokenRow",
    "AuditLogRow",
    "CacheGenerationRow",
    "MailServerLogRow",
    "MailSettingsRow",
    "OAuthAuthorizationRow",
    "OAuthDeviceSignInRow",
    "OAuthTokenRow",
    "WebSessionRow",
]


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
    fallback_graph_endpoint: Mapped[str] = mapped_column(Text, server_default="https://graph.microsoft.com")
    fallback_tenant_id: Mapped[str] = mapped_column(Text, server_default="")
    fallback_client_id: Mapped[str] = mapped_column(Text, server_default="")
    fallback_client_secret: Mapped[str | None] = mapped_column(Text)  # encrypted, as every secret
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
