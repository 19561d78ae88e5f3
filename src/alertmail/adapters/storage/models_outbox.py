"""The outbox and the events that fill it, and what paces and leases its delivery. (see models.py)."""

# No `from __future__ import annotations`: SQLAlchemy reads every `Mapped[...]` at each start, and
# objects cost it less than strings to evaluate (6 ms over the three models modules).

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from alertmail.adapters.storage.models_base import Base, UtcDateTime

__all__ = [
    "EventRow",
    "EventWindowRow",
    "LeaseRow",
    "OutboxRow",
    "PacingBucketRow",
    "PacingTokenRow",
    "SchedulerRunRow",
]


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
