"""Failover checks: each node's latest results, and the backup-operations flag of a node.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("backup_disabled_since", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "node_checks",
        sa.Column("node_id", sa.Text(), nullable=False),
        sa.Column("check_name", sa.String(64), nullable=False),
        sa.Column("failing", sa.Boolean(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("mailed", sa.Boolean(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("node_id", "check_name", name="pk_node_checks"),
    )


def downgrade() -> None:
    op.drop_table("node_checks")
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("backup_disabled_since")
