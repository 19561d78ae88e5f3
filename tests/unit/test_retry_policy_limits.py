"""The retry policy's own guards, each at its boundary: the value just allowed and the one just refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alertmail.domain.outbox import RetryPolicy, decide, next_attempt

CREATED = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
TINY = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({"first_delay": timedelta(0)}, "0 < first_delay"),
        ({"first_delay": -TINY}, "0 < first_delay"),
        ({"max_delay": timedelta(seconds=30) - TINY}, "first_delay <= max_delay"),
        ({"factor": 0.999}, "factor >= 1"),
        ({"factor": 0.0}, "factor >= 1"),
        ({"jitter": -0.001}, "0 <= jitter < 1"),
        ({"jitter": 1.0}, "0 <= jitter < 1"),
        ({"lifetime": timedelta(0)}, "positive lifetime"),
        ({"lifetime": -TINY}, "positive lifetime"),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_a_policy_just_past_a_limit_is_refused(changes: dict[str, object], refusal: str) -> None:
    with pytest.raises(ValueError, match=refusal):
        RetryPolicy(**changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"first_delay": TINY, "max_delay": TINY},
        {"max_delay": timedelta(seconds=30)},  # equal to the first delay
        {"factor": 1.0},
        {"jitter": 0.0},
        {"jitter": 0.999},
        {"lifetime": TINY},
    ],
    ids=lambda v: repr(v)[:40],
)
def test_a_policy_at_a_limit_is_allowed(changes: dict[str, object]) -> None:
    policy = RetryPolicy(**changes)  # type: ignore[arg-type]
    assert all(getattr(policy, name) == value for name, value in changes.items())


def test_a_factor_of_one_retries_at_a_constant_delay() -> None:
    policy = RetryPolicy(factor=1.0, jitter=0.0)
    now = CREATED + timedelta(minutes=1)
    assert {next_attempt(policy, n, now, CREATED, 0.0) for n in (1, 2, 5, 30)} == {
        now + timedelta(seconds=30)
    }


def test_a_policy_at_its_limits_still_schedules() -> None:
    policy = RetryPolicy(first_delay=TINY, max_delay=TINY, jitter=0.0, lifetime=timedelta(seconds=1))
    assert next_attempt(policy, 1, CREATED, CREATED, 0.0) == CREATED + TINY
    assert next_attempt(
        policy, 1, CREATED + timedelta(seconds=1) - TINY, CREATED, 0.0
    ) == CREATED + timedelta(seconds=1)


@pytest.mark.parametrize("fraction", [0.0, 0.999999])
def test_the_first_attempt_and_the_fraction_limits_are_accepted(fraction: float) -> None:
    assert next_attempt(RetryPolicy(), 1, CREATED, CREATED, fraction) is not None


def test_the_lifetime_of_the_policy_decides_when_a_message_is_dead() -> None:
    short = RetryPolicy(lifetime=timedelta(minutes=10))
    just_before = CREATED + timedelta(minutes=10) - TINY
    assert next_attempt(short, 1, just_before, CREATED, 0.0) == CREATED + timedelta(minutes=10)
    assert next_attempt(short, 1, CREATED + timedelta(minutes=10), CREATED, 0.0) is None
    found = decide(
        retryable=True,
        category="network",
        policy=short,
        attempts=1,
        now=CREATED + timedelta(minutes=10),
        created_at=CREATED,
        random_fraction=0.0,
    )
    assert (found.status, found.next_attempt_at) == ("dead", None)


def test_a_refused_recipient_is_dead_even_when_the_failure_says_retryable() -> None:
    found = decide(
        retryable=True,
        category="smtp_recipient",
        policy=RetryPolicy(),
        attempts=1,
        now=CREATED,
        created_at=CREATED,
        random_fraction=0.0,
    )
    assert (found.status, found.next_attempt_at) == ("dead", None)
