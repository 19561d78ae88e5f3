"""The pacing bucket's rule (domain/pacing.py) on a fake clock: whatever the delays, crashes and
numbers of senders, the relay receives at most `limit` messages in any window.

The simulation below grants tokens exactly as the repository does (`wait_for_token` over the busy
tokens' `free_at`), asks again as the service does (after the wait it was told, at most every
`MAX_POLL`), keeps a token in flight busy as its renewals do, and lets a sender crash mid-send: its
token then stays at its last renewal's `in_flight_until`.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from alertmail.domain.pacing import (
    CONNECTIONS,
    MESSAGES,
    WINDOW,
    in_flight_until,
    returned_at,
    wait_for_token,
)
from tests.support.delivery_checks import most_in_any_window

START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=15)
MAX_POLL = timedelta(seconds=1)


def test_a_token_is_free_while_fewer_than_the_limit_are_busy() -> None:
    busy = [START + timedelta(seconds=s) for s in (10, 20, 30)]
    assert wait_for_token(busy, START, limit=4) is None
    assert wait_for_token(busy, START, limit=3) == timedelta(seconds=10)
    assert wait_for_token(busy, START, limit=2) == timedelta(seconds=20)  # two must come back
    # Tokens already free do not count, and one free exactly now is free.
    assert wait_for_token(busy, START + timedelta(seconds=10), limit=3) is None


def test_takers_waiting_longer_are_served_first() -> None:
    busy = [START + timedelta(seconds=10)]
    assert wait_for_token(busy, START, limit=3, ahead=1) is None  # one free token left for us
    assert wait_for_token(busy, START, limit=3, ahead=2) == timedelta(seconds=10)
    # Every free token is for those ahead, and none is busy: ask again soon.
    assert timedelta(0) < wait_for_token([], START, limit=1, ahead=1) < timedelta(seconds=1)  # type: ignore[operator]


def test_a_message_token_stays_busy_for_the_window_a_connection_token_does_not() -> None:
    assert returned_at(START, bucket=MESSAGES) == START + WINDOW
    assert returned_at(START, bucket=CONNECTIONS) == START
    assert in_flight_until(START, LEASE, bucket=MESSAGES) == START + LEASE + WINDOW
    assert in_flight_until(START, LEASE, bucket=CONNECTIONS) == START + LEASE


@dataclass(frozen=True)
class Send:
    asks_at: float  # seconds after START the sender wants a token
    lasts: float  # seconds from the grant until the relay's reply
    received: float  # where in that span the relay took the message (0: at once, 1: at the reply)
    crashes: bool  # the sender dies when the relay has taken the message, before giving back


sends = st.builds(
    Send,
    asks_at=st.floats(min_value=0, max_value=180),
    lasts=st.floats(min_value=0, max_value=40),
    received=st.floats(min_value=0, max_value=1),
    crashes=st.booleans(),
)


@dataclass
class _Token:
    granted: datetime
    ends: datetime  # the reply, or the crash
    free_at: datetime  # once ended


MICROSECOND = timedelta(microseconds=1)


def simulate(requests: list[Send], limit: int) -> list[int]:
    """When the relay received each message, in microseconds after START (exact, not floats)."""
    tokens: list[_Token] = []
    received: list[float] = []
    queue = [(START + timedelta(seconds=send.asks_at), number) for number, send in enumerate(requests)]
    heapq.heapify(queue)
    while queue:
        now, number = heapq.heappop(queue)
        # In flight, a token is renewed: busy until after now; ended, busy until its free_at.
        free_at = [
            t.free_at if t.ends <= now else in_flight_until(now, LEASE, bucket=MESSAGES) for t in tokens
        ]
        wait = wait_for_token(free_at, now, limit)
        if wait is not None:
            heapq.heappush(queue, (now + max(min(wait, MAX_POLL), timedelta(milliseconds=20)), number))
            continue
        send = requests[number]
        ends = now + timedelta(seconds=send.lasts)
        tokens.append(_Token(now, ends, _free_at(now, ends, send.crashes)))
        received.append((now + (ends - now) * send.received - START) // MICROSECOND)
    return received


def _free_at(granted: datetime, ends: datetime, crashes: bool) -> datetime:
    if not crashes:
        return returned_at(ends, bucket=MESSAGES)
    # Renewed every third of the lease until the crash; the last renewal's expiry stands.
    renewals = (ends - granted) // (LEASE / 3)
    return in_flight_until(granted + renewals * (LEASE / 3), LEASE, bucket=MESSAGES)


@settings(max_examples=300, deadline=None)
@given(requests=st.lists(sends, min_size=1, max_size=60), limit=st.integers(min_value=1, max_value=8))
def test_the_relay_never_receives_more_than_the_limit_in_any_window(requests: list[Send], limit: int) -> None:
    received = simulate(requests, limit)
    assert len(received) == len(requests)  # everyone got a token in the end
    assert most_in_any_window(received, WINDOW // MICROSECOND) <= limit


@settings(max_examples=100, deadline=None)
@given(count=st.integers(min_value=1, max_value=40), limit=st.integers(min_value=1, max_value=8))
def test_instant_sends_asked_together_go_limit_at_a_time_one_window_apart(count: int, limit: int) -> None:
    received = simulate([Send(0, 0, 1, False)] * count, limit)
    assert received == [(n // limit) * (WINDOW // MICROSECOND) for n in range(count)]
