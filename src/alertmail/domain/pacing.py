"""Cluster-wide pacing: the relay's limits (`messages_per_minute`, `max_connections`) held by every
worker of every node together, through tokens kept in the database.

Why tokens in the database, not one sending node at a time: every node keeps sending (a node that
dies takes nothing with it but the tokens it held, which expire), claims stay spread over the
nodes, and `serve`, `worker` and the CLI on one SQLite file need no election to share the limits.

Two buckets, one rule. A bucket of `limit` tokens; taking one is allowed while fewer than `limit`
tokens are busy, and a token is busy until its `free_at`:
- `connections`: a token per open relay connection, busy while the connection is open. Its holder
  renews `free_at` (now + lease) while it keeps the connection; closing the connection gives the token
  back. A node that crashes stops renewing, and its tokens come back when the lease runs out.
- `messages`: a token per message sent, busy while the message is in flight and for `WINDOW` after the
  send ended. In flight it is renewed to now + `WINDOW` + lease, so that a crashed sender's token stays
  busy for at least `WINDOW` after anything it could have delivered.

Why this bound holds at the relay, whatever the delays: take the messages the relay received in any
`WINDOW`-long span [t, t + WINDOW) and the last of them to be granted, at g. Every other one was
granted before g and ended (its reply came back) after t > g - WINDOW: at g it was in flight or had
ended less than `WINDOW` before, so it was busy; fewer than `limit` were busy, so the span holds at
most `limit`. A classic token bucket (a capacity refilled at a steady rate) does not give that: a
full bucket lets `capacity + rate x WINDOW` through in one window, and its grant times are not the
relay's receipt times (a message that waited on a slow connect lands closer to the next one).

Takers wait in turn: a taker refused registers as waiting (`<bucket>:wanted`, kept alive while it
asks again), and a free token goes to the longest waiting first. A worker that holds connections
across batches gives them back at the end of a batch when another worker waits for one, so a node
never keeps the relay to itself while others have mail.

A worker takes message tokens ahead, for the next messages of its batch, in one write (issue #18:
a write per message was most of a paced drain's CPU). The bound above still holds with "granted"
read as "taken": the tokens taken together are counted together against the limit, each is busy
from then on, and one never used is free again at once (it carried nothing). At most a tenth of the
limit is taken at once, so that the workers of a cluster share it. A used token may be given back
late, at the worker's next take or at the end of its batch: it stays busy meanwhile (renewed), which
is never less than it should, and is then given its exact `free_at`.

The clock is the workers' own: nodes need synchronised clocks (NTP), as outbox leases already do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

__all__ = [
    "AHEAD_POLL",
    "CONNECTIONS",
    "MESSAGES",
    "WAITING_ALIVE",
    "WINDOW",
    "PacingRepository",
    "Taken",
    "busy",
    "free_to_take",
    "in_flight_until",
    "position_to_wait_for",
    "returned_at",
    "tokens_ahead",
    "wait_for_token",
    "wanted",
]

CONNECTIONS = "connections"
MESSAGES = "messages"
WINDOW = timedelta(minutes=1)  # `messages_per_minute`: the relay counts over a minute
WAITING_ALIVE = timedelta(seconds=3)  # a waiting taker that stopped asking this long is gone
AHEAD_POLL = timedelta(milliseconds=250)  # free tokens, all for takers waiting longer: ask soon


def wanted(bucket: str) -> str:
    """The bucket of the takers waiting for a token of `bucket`."""
    return f"{bucket}:wanted"


@dataclass(frozen=True)
class Taken:
    """A token taken: its id (to renew or give it back), or None and how long to wait before asking again.
    `more`: the further tokens taken at the same time, when more than one was asked for."""

    token: str | None
    wait: timedelta = timedelta(0)
    more: tuple[str, ...] = ()

    @property
    def tokens(self) -> tuple[str, ...]:
        return () if self.token is None else (self.token, *self.more)


def tokens_ahead(wanted: int, limit: int) -> int:
    """How many message tokens a worker asks for at once: those its batch still needs, at most a
    tenth of the limit (at least one)."""
    return max(1, min(wanted, limit // 10))


def busy(free_at: Iterable[datetime], now: datetime) -> list[datetime]:
    """The tokens still busy at `now`, soonest free first."""
    return sorted(moment for moment in free_at if moment > now)


def free_to_take(busy_count: int, limit: int, *, ahead: int = 0) -> int:
    """How many tokens may be taken now: the limit, less the busy ones and one for each taker ahead."""
    return max(0, limit - busy_count - ahead)


def position_to_wait_for(busy_count: int, limit: int, *, ahead: int = 0) -> int | None:
    """None when a token may be taken now: fewer than `limit` busy, with one left over for each of
    the `ahead` takers waiting longer. Otherwise which busy token (0: the soonest free) must come
    back first; `busy_count` or more means none: the free ones are all for the takers ahead."""
    needed = busy_count + ahead - limit
    return None if needed < 0 else needed


def wait_for_token(
    free_at: Sequence[datetime], now: datetime, limit: int, *, ahead: int = 0
) -> timedelta | None:
    """None when a token may be taken at `now`; otherwise how long until enough are free, as far as
    is known now (a token in flight may come back sooner)."""
    taken = busy(free_at, now)
    position = position_to_wait_for(len(taken), limit, ahead=ahead)
    if position is None:
        return None
    return AHEAD_POLL if position >= len(taken) else taken[position] - now


def in_flight_until(now: datetime, lease: timedelta, *, bucket: str, window: timedelta = WINDOW) -> datetime:
    """`free_at` of a token in use at `now`, until its holder renews it again."""
    return now + lease + (window if bucket == MESSAGES else timedelta(0))


def returned_at(ended: datetime, *, bucket: str, window: timedelta = WINDOW) -> datetime:
    """`free_at` of a token given back at `ended`: a message's stays busy for `window`."""
    return ended + (window if bucket == MESSAGES else timedelta(0))


class PacingRepository(Protocol):
    """The tokens, shared by every worker on the database. Taking is atomic: two takers never both
    get the last token."""

    async def take(
        self, bucket: str, holder: str, *, limit: int, now: datetime, until: datetime, count: int = 1
    ) -> Taken:
        """Take up to `count` tokens of `bucket` busy until `until`, while fewer than `limit` are busy
        at `now` (at least one, or none and the wait)."""
        ...

    async def renew(self, tokens: Sequence[str], holder: str, until: datetime) -> set[str]:
        """Keep `holder`'s `tokens` busy until `until`; those it still held."""
        ...

    async def give_back(self, token: str, holder: str, free_at: datetime) -> None:
        """The token is free from `free_at` (now, or a while after a message was sent)."""
        ...

    async def give_back_many(self, free_at: Mapping[str, datetime], holder: str) -> None:
        """Each token is free from its own `free_at`, in one write."""
        ...

    async def withdraw(self, bucket: str, holder: str) -> None:
        """`holder` no longer waits for a token of `bucket`."""
        ...

    async def others_wait(self, bucket: str, holder: str, now: datetime) -> bool:
        """Whether a taker other than `holder` waits for a token of `bucket`."""
        ...
