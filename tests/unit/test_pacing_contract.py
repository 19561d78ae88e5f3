"""The pacing rule's fixed points (domain/pacing.py): the values other parts of alertmail rely on.

`messages_per_minute` counts over exactly a minute; a taker behind others asks again within a
quarter of a second; a waiting taker that stopped asking is forgotten after three seconds (the
repository registers it busy that long and the service re-asks well within it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alertmail.domain.pacing import (
    AHEAD_POLL,
    CONNECTIONS,
    MESSAGES,
    WAITING_ALIVE,
    Taken,
    in_flight_until,
    position_to_wait_for,
    returned_at,
    wait_for_token,
    wanted,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=15)


def test_a_sent_message_keeps_its_token_busy_for_exactly_a_minute() -> None:
    assert returned_at(NOW, bucket=MESSAGES) == NOW + timedelta(minutes=1)
    assert in_flight_until(NOW, LEASE, bucket=MESSAGES) == NOW + LEASE + timedelta(minutes=1)
    assert returned_at(NOW, bucket=CONNECTIONS) == NOW


def test_takers_behind_others_ask_again_within_a_quarter_second() -> None:
    # No token busy, one free, but a taker waiting longer gets it: this one asks again soon.
    assert wait_for_token([], NOW, 1, ahead=1) == AHEAD_POLL == timedelta(milliseconds=250)


def test_a_waiting_taker_is_forgotten_three_seconds_after_it_stopped_asking() -> None:
    assert timedelta(seconds=3) == WAITING_ALIVE
    assert AHEAD_POLL * 4 < WAITING_ALIVE  # a taker still waiting re-asks several times in that span


def test_the_waiting_takers_of_a_bucket_have_a_bucket_of_their_own() -> None:
    assert wanted(MESSAGES) == "messages:wanted"
    assert wanted(CONNECTIONS) not in (CONNECTIONS, MESSAGES, wanted(MESSAGES))


def test_a_token_taken_needs_no_wait() -> None:
    assert Taken("token-1").wait == timedelta(0)


def test_with_nobody_ahead_a_token_is_free_below_the_limit_and_the_soonest_is_awaited_at_it() -> None:
    assert position_to_wait_for(2, 3) is None
    assert position_to_wait_for(3, 3) == 0
    assert position_to_wait_for(4, 3) == 1
