"""Events and their coalescing windows, scheduler runs, web sessions; sending limits; raw messages.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _code(name: str, length: int, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("mail_settings") as batch:
        batch.add_column(sa.Column("max_connections", sa.Integer(), nullable=False, server_default="3"))
        batch.add_column(sa.Column("messages_per_minute", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("source", sa.String(32), nullable=False, server_default="event"))
        batch.add_column(sa.Column("raw", sa.Text(), nullable=True))
    op.create_table(
        "events",
        _code("id", 36),
        _code("event_type", 64),
        _text("dedupe_key"),
        sa.Column("details", sa.JSON(), nullable=False),
        _text("source"),
        _text("node"),
        _timestamp("received_at"),
        sa.Column("window_id", sa.Integer(), nullable=True),
        _code("outbox_id", 36, nullable=True),
        _code("disposition", 16),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_event_type_received_at", "events", ["event_type", "received_at"])
    op.create_index("ix_events_received_at", "events", ["received_at"])
    op.create_table(
        "event_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        _code("event_type", 64),
        _text("dedupe_key"),
        _timestamp("bucket_start"),
        _timestamp("closes_at"),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("coalesced", sa.Integer(), nullable=False),
        _timestamp("first_at"),
        _timestamp("last_at"),
        sa.Column("mailed", sa.Boolean(), nullable=False),
        sa.Column("digest_pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_event_windows"),
        sa.UniqueConstraint("event_type", "dedupe_key", "bucket_start", name="uq_event_windows_event_type"),
    )
    op.create_index("ix_event_windows_digest_due", "event_windows", ["digest_pending", "closes_at"])
    op.create_table(
        "scheduler_runs",
        _code("job", 64),
        _code("period", 64),
        _timestamp("ran_at"),
        _text("node"),
        sa.PrimaryKeyConstraint("job", "period", name="pk_scheduler_runs"),
    )
    op.create_table(
        "web_sessions",
        _code("id", 64),
        sa.Column("administrator_id", sa.Integer(), nullable=False),
        _code("csrf_token", 128),
        _timestamp("created_at"),
        _timestamp("last_seen_at"),
        _timestamp("expires_at"),
        _text("user_agent"),
        sa.PrimaryKeyConstraint("id", name="pk_web_sessions"),
        sa.ForeignKeyConstraint(
            ["administrator_id"],
            ["administrators.id"],
            name="fk_web_sessions_administrator_id_administrators",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_web_sessions_administrator_id", "web_sessions", ["administrator_id"])
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("web_sessions")
    op.drop_table("scheduler_runs")
    op.drop_table("event_windows")
    op.drop_table("events")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("raw")
        batch.drop_column("source")
    with op.batch_alter_table("mail_settings") as batch:
        batch.drop_column("messages_per_minute")
        batch.drop_column("max_connections")
