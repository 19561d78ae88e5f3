"""Delivery per recipient, and what a held message waits for.

- `outbox.recipient_states`: each recipient's outcome once an attempt reached only some of them
  ({address: "sent" | "pending" | "dead"}); empty until then.
- `outbox.waiting_settings_version`, `outbox.waiting_sign_in`: the settings version and the OAuth2
  sign-in (its `obtained_at`) a `waiting_config` message was refused under; any worker releases the
  message once either changed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("recipient_states", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("waiting_settings_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("waiting_sign_in", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("waiting_sign_in")
        batch.drop_column("waiting_settings_version")
        batch.drop_column("recipient_states")
