"""Token rows that only move forward, leases in the database, and who a node is.

- `oauth_tokens.generation`: every write of new tokens is a compare-and-set on it.
- `leases`: named locks with an expiry, for what must be one at a time across processes that share
  one SQLite file (the OAuth2 refresh); PostgreSQL uses advisory locks for those.
- `nodes.instance_id`: the process that holds a node name (another live one is refused);
  `nodes.lock_session`: the database backend holding the primary's lock, the only one a fence may end.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_tokens") as batch:
        batch.add_column(sa.Column("generation", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("instance_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lock_session", sa.Integer(), nullable=True))
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    op.drop_table("leases")
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("lock_session")
        batch.drop_column("instance_id")
    with op.batch_alter_table("oauth_tokens") as batch:
        batch.drop_column("generation")
