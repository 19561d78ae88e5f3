"""The fallback transport: its settings, the transport state every node shares, who sent a message.

- `mail_settings.fallback_*`: a second, complete transport (none by default);
- `transport_state`: one row saying which transport is active, since when, and how the primary is
  failing; switched by compare-and-set on `generation`;
- `outbox.transport`: which transport sent a message ("" until sent).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("mail_settings") as batch:
        batch.add_column(
            sa.Column("fallback_email_type", sa.String(16), nullable=False, server_default="none")
        )
        batch.add_column(sa.Column("fallback_hostname", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("fallback_port", sa.Integer(), nullable=False, server_default="587"))
        batch.add_column(
            sa.Column("fallback_encryption", sa.String(16), nullable=False, server_default="starttls")
        )
        batch.add_column(
            sa.Column("fallback_auth_type", sa.String(16), nullable=False, server_default="none")
        )
        batch.add_column(sa.Column("fallback_username", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("fallback_password", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("fallback_after_minutes", sa.Integer(), nullable=False, server_default="10")
        )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("transport", sa.String(16), nullable=False, server_default=""))
    state = op.create_table(
        "transport_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("active", sa.String(16), nullable=False),
        sa.Column("active_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("primary_failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_category", sa.String(32), nullable=False),
        sa.Column("failure_message", sa.Text(), nullable=False),
        sa.Column("failure_hint", sa.Text(), nullable=False),
        sa.Column("next_probe_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_transport_state_single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_transport_state"),
    )
    op.bulk_insert(
        state,
        [
            {
                "id": 1,
                "active": "primary",
                "failure_category": "",
                "failure_message": "",
                "failure_hint": "",
                "generation": 0,
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("transport_state")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("transport")
    with op.batch_alter_table("mail_settings") as batch:
        for name in (
            "fallback_after_minutes",
            "fallback_password",
            "fallback_username",
            "fallback_auth_type",
            "fallback_encryption",
            "fallback_port",
            "fallback_hostname",
            "fallback_email_type",
        ):
            batch.drop_column(name)
