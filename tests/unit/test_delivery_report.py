"""The Delivery page's cursor, pages and hourly outcomes (#19): a page link's cursor comes back as it
went out, anything else is refused, a page read one row long knows there is a next one, and an hour
with nothing in it counts nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertmail.domain.delivery_report import MAX_PAGE, HourOutcomes, KeysetPage, PageCursor, page_size

WHEN = datetime(2026, 12, 4, 15, 30, 12, 345678, tzinfo=UTC)


def test_a_cursor_is_written_as_its_time_and_id() -> None:
    assert PageCursor(WHEN, "m-1").token() == "2026-12-04T15:30:12.345678+00:00|m-1"


@given(
    at=st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))])),
    id=st.text(min_size=1, max_size=40).filter(lambda s: "|" not in s),
)
def test_a_cursor_comes_back_as_it_went_out(at: datetime, id: str) -> None:
    cursor = PageCursor(at, id)
    assert PageCursor.parse(cursor.token()) == cursor


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
        PageCursor.parse(token)


def a_cursor(n: int) -> PageCursor:
    return PageCursor(WHEN - timedelta(seconds=n), f"row-{n}")


@pytest.mark.parametrize(
    ("found", "size", "shown", "next"),
    [
        ([], 3, [], None),  # nothing at all
        ([0, 1], 3, [0, 1], None),  # fewer than a page: the last page
        ([0, 1, 2], 3, [0, 1, 2], None),  # exactly a page: still the last one
        ([0, 1, 2, 3], 3, [0, 1, 2], 2),  # one more than a page: the next starts after the last shown
        ([0, 1], 1, [0], 0),
    ],
)
def test_a_page_read_one_row_long_knows_whether_a_next_page_exists(
    found: list[int], size: int, shown: list[int], next: int | None
) -> None:
    page = KeysetPage.of(found, size, a_cursor)
    assert list(page.items) == shown
    assert page.next == (None if next is None else a_cursor(next))


@pytest.mark.parametrize(
    ("asked", "given"), [(-5, 1), (0, 1), (1, 1), (25, 25), (MAX_PAGE, MAX_PAGE), (10**6, MAX_PAGE)]
)
def test_a_page_shows_at_least_one_row_and_at_most_the_maximum(asked: int, given: int) -> None:
    assert page_size(asked) == given


def test_an_hour_with_nothing_in_it_counts_nothing() -> None:
    empty = HourOutcomes(WHEN)
    assert (empty.sent, empty.retried, empty.dead) == (0, 0, 0)
