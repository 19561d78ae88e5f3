"""What the Delivery page reads: pages of messages or events under a keyset cursor, and outcomes per hour."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

__all__ = ["MAX_PAGE", "HourOutcomes", "KeysetPage", "PageCursor", "page_size"]

Item = TypeVar("Item")
MAX_PAGE = 200


def page_size(limit: int) -> int:
    """The rows a page shows for a requested `limit`: at least one, at most MAX_PAGE."""
    return max(1, min(limit, MAX_PAGE))


@dataclass(frozen=True)
class PageCursor:
    """Where the next page starts: after the row of time `at` with id `id`, newest first.

    Keyset, not offset: the query walks a (time, id) index from here, so page 500 costs what page 1
    does, and rows written meanwhile neither repeat nor shift a row off the next page. `at` is a
    message's created_at, or an event's received_at."""

    at: datetime
    id: str

    def token(self) -> str:
        return f"{self.at.isoformat()}|{self.id}"

    @classmethod
    def parse(cls, token: str) -> PageCursor:
        """The cursor a page link carried; ValueError for anything else."""
        when, sep, id = token.partition("|")
        at = datetime.fromisoformat(when)
        if not sep or not id or at.tzinfo is None:
            raise ValueError("not a cursor")
        return cls(at, id)


@dataclass(frozen=True)
class KeysetPage(Generic[Item]):
    items: Sequence[Item]
    next: PageCursor | None  # where the following page starts; None on the last page

    @classmethod
    def of(cls, found: Sequence[Item], size: int, key: Callable[[Item], PageCursor]) -> KeysetPage[Item]:
        """The first `size` of `found`, read with a limit of `size + 1`: one more row means a next page."""
        shown = found[:size]
        more = len(found) > size and bool(shown)
        return cls(shown, key(shown[-1]) if more else None)


@dataclass(frozen=True)
class HourOutcomes:
    """One hour (UTC), or one day in a daily series: the messages queued in it that were sent or
    retried, and the messages that became dead in it (whenever they were queued)."""

    hour: datetime  # the start of the hour (or of the day)
    sent: int = 0
    retried: int = 0  # needed more than one attempt, whatever the end
    dead: int = 0
