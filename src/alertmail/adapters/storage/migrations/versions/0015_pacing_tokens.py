"""Cluster-wide pacing: the tokens of the relay's limits, shared by every node (domain/pacing.py).

- `pacing_buckets`: one row per bucket (`messages`, `connections`), locked by a taker on PostgreSQL
  so that counting the busy tokens and adding one are a single step;
- `pacing_tokens`: the tokens taken, each busy until `free_at`; and the takers waiting for one
  (bucket `<bucket>:wanted`, one row per taker, since `created_at`, alive until `free_at`).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    buckets = op.create_table(
        "pacing_buckets",
        sa.Column("name", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_pacing_buckets"),
    )
    op.bulk_insert(buckets, [{"name": "messages"}, {"name": "connections"}])
    op.create_table(
        "pacing_tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("bucket", sa.String(32), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("free_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pacing_tokens"),
    )
    op.create_index("ix_pacing_tokens_bucket_free_at", "pacing_tokens", ["bucket", "free_at"])


def downgrade() -> None:
    op.drop_index("ix_pacing_tokens_bucket_free_at", table_name="pacing_tokens")
    op.drop_table("pacing_tokens")
    op.drop_table("pacing_buckets")
