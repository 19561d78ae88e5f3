"""When a message became dead, and each refused recipient's own reply.

- `outbox.dead_at` (indexed): set when a message becomes dead, cleared when it is retried by hand.
  The Delivery page counts "dead in the last 24 h" and the chart's dead series by it, not by the
  time the message was queued. Existing dead rows get the time of their last attempt, read from the
  newest Mail Server Logs entry about them (contexts start "outbox <id> "), else their created_at.
- `outbox.recipient_replies`: {address: {"code": 550 | null, "text": "..."}}, the relay's last
  refusal of each recipient; empty for older rows (their message's last_error still says why).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | None = None
depends_on: str | None = None

_OUTBOX = sa.table(
    "outbox",
    sa.column("id", sa.String()),
    sa.column("status", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("dead_at", sa.DateTime(timezone=True)),
)
_MAIL_LOG = sa.table(
    "mail_server_log", sa.column("context", sa.Text()), sa.column("registered_at", sa.DateTime(timezone=True))
)


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("recipient_replies", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_outbox_dead_at", ["dead_at"])
    _backfill_dead_at(op.get_bind())


def _backfill_dead_at(connection: sa.Connection) -> None:
    dead = _OUTBOX.c.status == "dead"
    connection.execute(_OUTBOX.update().where(dead).values(dead_at=_OUTBOX.c.created_at))
    dead_ids = set(connection.scalars(sa.select(_OUTBOX.c.id).where(dead)))
    if not dead_ids:
        return
    entries = connection.execute(
        sa.select(_MAIL_LOG.c.context, sa.func.max(_MAIL_LOG.c.registered_at))
        .where(_MAIL_LOG.c.context.like("outbox %"))
        .group_by(_MAIL_LOG.c.context)
    )
    last_attempt: dict[str, datetime] = {}
    for context, at in entries:
        id = context.split(" ", 2)[1] if " " in context else ""
        if id in dead_ids and (id not in last_attempt or at > last_attempt[id]):
            last_attempt[id] = at
    if last_attempt:
        connection.execute(
            _OUTBOX.update()
            .where(_OUTBOX.c.id == sa.bindparam("dead_id"))
            .values(dead_at=sa.bindparam("at")),
            [{"dead_id": id, "at": at} for id, at in last_attempt.items()],
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_dead_at")
        batch.drop_column("dead_at")
        batch.drop_column("recipient_replies")
