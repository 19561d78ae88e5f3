"""The HTTP API E-mail Types' endpoints: `graph_endpoint` and `gmail_endpoint`.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("mail_settings") as batch:
        batch.add_column(
            sa.Column(
                "graph_endpoint", sa.Text(), nullable=False, server_default="https://graph.microsoft.com"
            )
        )
        batch.add_column(
            sa.Column(
                "gmail_endpoint", sa.Text(), nullable=False, server_default="https://gmail.googleapis.com"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("mail_settings") as batch:
        batch.drop_column("gmail_endpoint")
        batch.drop_column("graph_endpoint")
