"""The primary transport's latest relay-wide failure: a quiet period longer than the threshold
breaks its run of failures (domain/fallback.run_is_broken). And Graph as a fallback: its own
endpoint, tenant, app and (encrypted) client secret.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("transport_state") as batch:
        batch.add_column(sa.Column("primary_last_failed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("mail_settings") as batch:
        batch.add_column(
            sa.Column(
                "fallback_graph_endpoint",
                sa.Text(),
                nullable=False,
                server_default="https://graph.microsoft.com",
            )
        )
        batch.add_column(sa.Column("fallback_tenant_id", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("fallback_client_id", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("fallback_client_secret", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mail_settings") as batch:
        for column in (
            "fallback_client_secret",
            "fallback_client_id",
            "fallback_tenant_id",
            "fallback_graph_endpoint",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("transport_state") as batch:
        batch.drop_column("primary_last_failed_at")
