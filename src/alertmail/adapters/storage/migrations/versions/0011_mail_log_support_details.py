"""Mail Server Logs keep what a provider's support asks for: trace and correlation IDs, timestamps,
the provider's own error description (one JSON column; empty for older entries).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("mail_server_log") as batch:
        batch.add_column(sa.Column("support_details", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("mail_server_log") as batch:
        batch.drop_column("support_details")
