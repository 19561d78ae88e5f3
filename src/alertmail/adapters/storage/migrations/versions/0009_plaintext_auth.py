"""The explicit consent to Basic authentication without TLS (`allow_plaintext_auth`, off).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("mail_settings") as batch:
        batch.add_column(
            sa.Column("allow_plaintext_auth", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("mail_settings") as batch:
        batch.drop_column("allow_plaintext_auth")
