"""What the Delivery page reads about the outbox: a page of messages under a cursor, and outcomes per hour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["HourOutcomes", "MessageCursor"]


@dataclass(frozen=True)
class MessageCursor:
    """Where the next page starts: after the message created at `created_at` with id `id`, newest first.

    Keyset, not offset: the query walks the (status, created_at) index from here, so page 500 costs
    what page 1 does."""

    created_at: datetime
    id: str

    def token(self) -> str:
        return f"{self.created_at.isoformat()}|{self.id}"

    @classmethod
    def parse(cls, token: str) -> MessageCursor:
        """The cursor a page link carried; ValueError for anything else."""
        when, sep, id = token.partition("|")
        created_at = datetime.fromisoformat(when)
        if not sep or not id or created_at.tzinfo is None:
            raise ValueError("not a cursor")
        return cls(created_at, id)


@dataclass(frozen=True)
class HourOutcomes:
    """Messages queued in one hour (UTC), or one day in a daily series, by what became of them."""

    hour: datetime  # the start of the hour (or of the day)
    sent: int = 0
    retried: int = 0  # needed more than one attempt, whatever the end
    dead: int = 0
