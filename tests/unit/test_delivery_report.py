"""The Delivery page's cursor and hourly outcomes (#19): a page link's cursor comes back as it went
out, anything else is refused, and an hour with nothing in it counts nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertmail.domain.delivery_report import HourOutcomes, MessageCursor

WHEN = datetime(2026, 12, 4, 15, 30, 12, 345678, tzinfo=UTC)


def test_a_cursor_is_written_as_its_time_and_id() -> None:
    assert MessageCursor(WHEN, "m-1").token() == "2026-12-04T15:30:12.345678+00:00|m-1"


@given(
    created_at=st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))])),
    id=st.text(min_size=1, max_size=40).filter(lambda s: "|" not in s),
)
def test_a_cursor_comes_back_as_it_went_out(created_at: datetime, id: str) -> None:
    cursor = MessageCursor(created_at, id)
    assert MessageCursor.parse(cursor.token()) == cursor


@pytest.mark.parametrize(
    "token",
    [
        "2026-12-04T15:30:12+00:00",  # no separator
        "2026-12-04T15:30:12+00:00|",  # no id
        "2026-12-04T15:30:12|m-1",  # no time zone: not one this server wrote
        "yesterday|m-1",  # not a time
        "",
    ],
)
def test_anything_but_a_cursor_is_refused(token: str) -> None:
    with pytest.raises(ValueError):
        MessageCursor.parse(token)


def test_an_hour_with_nothing_in_it_counts_nothing() -> None:
    empty = HourOutcomes(WHEN)
    assert (empty.sent, empty.retried, empty.dead) == (0, 0, 0)
