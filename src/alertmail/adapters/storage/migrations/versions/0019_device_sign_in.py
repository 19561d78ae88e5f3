"""Sign in with a code (RFC 8628): the device authorization endpoint, and the one device sign-in.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("mail_settings") as batch:
        batch.add_column(
            sa.Column("device_authorization_endpoint", sa.Text(), nullable=False, server_default="")
        )
    op.create_table(
        "oauth_device_sign_in",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("attempt", sa.String(64), nullable=False),
        sa.Column("administrator", sa.Text(), nullable=False),
        sa.Column("device_code", sa.Text(), nullable=False),
        sa.Column("user_code", sa.Text(), nullable=False),
        sa.Column("verification_uri", sa.Text(), nullable=False),
        sa.Column("verification_uri_complete", sa.Text(), nullable=False),
        sa.Column("interval", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_oauth_device_sign_in_single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_oauth_device_sign_in"),
    )


def downgrade() -> None:
    op.drop_table("oauth_device_sign_in")
    with op.batch_alter_table("mail_settings") as batch:
        batch.drop_column("device_authorization_endpoint")
