"""An outbox message as the values of its row's columns: what every writer of the outbox stores.

SqlOutboxRepository (SQLAlchemy) and sendmail's direct path (direct_outbox.py, the driver alone)
both write these values, so a message queued either way is the same row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from alertmail.domain.outbox import OutboxMessage, RecipientReply

__all__ = ["JSON_COLUMNS", "OUTBOX_COLUMNS", "outbox_values", "replies_values"]

OUTBOX_COLUMNS = tuple(f.name for f in fields(OutboxMessage))
# Stored as JSON text (the models' `JSON` type).
JSON_COLUMNS = frozenset({"recipients", "recipient_states", "recipient_replies"})


def outbox_values(message: OutboxMessage) -> dict[str, Any]:
    values = {name: getattr(message, name) for name in OUTBOX_COLUMNS}
    values["recipients"] = list(message.recipients)
    values["recipient_states"] = dict(message.recipient_states)
    values["recipient_replies"] = replies_values(message.recipient_replies)
    return values


def replies_values(replies: Mapping[str, RecipientReply]) -> dict[str, dict[str, Any]]:
    return {address: {"code": reply.code, "text": reply.text} for address, reply in replies.items()}
