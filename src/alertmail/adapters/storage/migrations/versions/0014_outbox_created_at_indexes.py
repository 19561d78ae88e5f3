"""Indexes for the Delivery page: the outbox newest first, all or of one status.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Leading created_at serves the unfiltered pages; status and attempts make the chart index-only.
    op.create_index("ix_outbox_created_at_status_attempts", "outbox", ["created_at", "status", "attempts"])
    op.create_index("ix_outbox_status_created_at", "outbox", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_status_created_at", table_name="outbox")
    op.drop_index("ix_outbox_created_at_status_attempts", table_name="outbox")
