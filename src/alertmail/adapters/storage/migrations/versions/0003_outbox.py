"""The outbox: e-mails accepted for delivery, their state, attempts and leases.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _code(name: str, length: int) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=False)


def upgrade() -> None:
    op.create_table(
        "outbox",
        _code("id", 36),
        _code("event_type", 64),
        _text("dedupe_key"),
        sa.Column("recipients", sa.JSON(), nullable=False),
        _text("subject"),
        _text("text"),
        _text("html"),
        _text("message_id"),
        _code("status", 16),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _timestamp("next_attempt_at", nullable=True),
        _text("lease_owner", nullable=True),
        _timestamp("lease_expires_at", nullable=True),
        _text("last_error"),
        _code("last_category", 32),
        _timestamp("created_at"),
        _timestamp("sent_at", nullable=True),
        _timestamp("expires_at"),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_lease_expires_at", "outbox", ["lease_expires_at"])


def downgrade() -> None:
    op.drop_table("outbox")
