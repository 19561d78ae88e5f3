"""`--expires-in` and the API's `expires_in`: a number and a unit, or never; nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertmail.domain.api_tokens import EXPIRES_IN_PATTERN, parse_expires_in


@pytest.mark.parametrize(
    ("text", "lifetime"),
    [
        ("12h", timedelta(hours=12)),
        ("90d", timedelta(days=90)),
        ("52w", timedelta(weeks=52)),
        (" 30D ", timedelta(days=30)),
        ("never", None),
        ("9999w", timedelta(weeks=9999)),
    ],
)
def test_lifetimes_people_write(text: str, lifetime: timedelta | None) -> None:
    assert parse_expires_in(text) == lifetime


@pytest.mark.parametrize("text", ["", "0d", "90", "d", "-1d", "1.5d", "90 days", "1y", "10000d", "forever"])
def test_anything_else_is_refused_saying_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match=r"h, d or w"):
        parse_expires_in(text)


@given(st.from_regex(EXPIRES_IN_PATTERN, fullmatch=True))
def test_whatever_the_api_schema_lets_through_is_a_lifetime(text: str) -> None:
    lifetime = parse_expires_in(text)
    assert lifetime is None or timedelta(hours=1) <= lifetime <= timedelta(weeks=9999)
