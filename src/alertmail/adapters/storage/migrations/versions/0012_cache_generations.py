"""Cache generations: a counter per cached kind of data, bumped by every change to it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    table = op.create_table(
        "cache_generations",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_cache_generations"),
    )
    op.bulk_insert(table, [{"name": "credentials", "generation": 0}])


def downgrade() -> None:
    op.drop_table("cache_generations")
