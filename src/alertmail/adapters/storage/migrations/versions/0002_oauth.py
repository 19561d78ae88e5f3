"""OAuth2: the grant and Google testing flag in the settings, the tokens, sign-ins in progress.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _add_settings_columns() -> None:
    with op.batch_alter_table("mail_settings") as batch:
        batch.add_column(
            sa.Column("oauth_grant", sa.String(32), nullable=False, server_default="authorization_code")
        )
        batch.add_column(
            sa.Column("oauth_app_testing", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def _create_oauth_tokens() -> None:
    op.create_table(
        "oauth_tokens",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("grant", sa.String(32), nullable=False),
        _text("access_token"),
        _text("refresh_token", nullable=True),
        _timestamp("access_expires_at", nullable=True),
        _timestamp("obtained_at"),
        _text("client_id"),
        _text("token_endpoint"),
        _text("account"),
        _timestamp("refreshed_at", nullable=True),
        _timestamp("accepted_at", nullable=True),
        sa.Column("reauthorization_required", sa.Boolean(), nullable=False),
        _text("last_error"),
        sa.Column("last_error_code", sa.String(64), nullable=False),
        _timestamp("last_error_at", nullable=True),
        sa.CheckConstraint("id = 1", name="ck_oauth_tokens_single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_oauth_tokens"),
    )


def _create_oauth_authorizations() -> None:
    op.create_table(
        "oauth_authorizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state_hash", sa.String(64), nullable=False),
        _text("code_verifier"),
        _text("administrator"),
        _text("redirect_uri"),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        sa.Column("status", sa.String(16), nullable=False),
        _text("message"),
        _text("reason"),
        sa.PrimaryKeyConstraint("id", name="pk_oauth_authorizations"),
        sa.UniqueConstraint("state_hash", name="uq_oauth_authorizations_state_hash"),
    )
    op.create_index("ix_oauth_authorizations_expires_at", "oauth_authorizations", ["expires_at"])


def upgrade() -> None:
    _add_settings_columns()
    _create_oauth_tokens()
    _create_oauth_authorizations()


def downgrade() -> None:
    op.drop_table("oauth_authorizations")
    op.drop_table("oauth_tokens")
    with op.batch_alter_table("mail_settings") as batch:
        batch.drop_column("oauth_app_testing")
        batch.drop_column("oauth_grant")
