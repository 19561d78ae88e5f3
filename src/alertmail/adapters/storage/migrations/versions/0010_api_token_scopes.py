"""API tokens get a scope and an expiry, and unique names so that one can be revoked by name.

Tokens made before keep working as they did: scope `admin`, no expiry. Two of one name are told
apart by the later one's id (`script #7`).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE api_tokens SET name = name || ' #' || CAST(id AS VARCHAR(20)) "
        "WHERE EXISTS (SELECT 1 FROM api_tokens AS older "
        "WHERE older.name = api_tokens.name AND older.id < api_tokens.id)"
    )
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("scope", sa.String(16), server_default="admin", nullable=False))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint("uq_api_tokens_name", ["name"])


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_constraint("uq_api_tokens_name", type_="unique")
        batch.drop_column("expires_at")
        batch.drop_column("scope")
