"""The retry policy and the failure decision table: pure functions, one case per row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alertmail.domain.classification_matchers import Scope
from alertmail.domain.outbox import RetryPolicy, decide, new_outbox_message, next_attempt

POLICY = RetryPolicy()
CREATED = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
NOW = CREATED + timedelta(minutes=1)


def delay(attempts: int, random_fraction: float = 0.0, now: datetime = NOW) -> timedelta | None:
    when = next_attempt(POLICY, attempts, now, CREATED, random_fraction)
    return None if when is None else when - now


def test_the_defaults_are_30_seconds_doubling_up_to_30_minutes_for_2_days() -> None:
    assert (POLICY.first_delay, POLICY.factor, POLICY.max_delay, POLICY.jitter, POLICY.lifetime) == (
        timedelta(seconds=30),
        2,
        timedelta(minutes=30),
        0.2,
        timedelta(days=2),
    )


def test_backoff_grows_exponentially() -> None:
    assert [delay(n) for n in (1, 2, 3, 4, 5)] == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480)]


def test_backoff_is_capped() -> None:
    assert delay(7) == timedelta(minutes=30)  # 30 s * 2**6 = 32 min
    assert delay(10_000) == timedelta(minutes=30)  # no float overflow either


@pytest.mark.parametrize("attempts", [1, 3, 7, 50])
def test_jitter_shortens_a_delay_by_at_most_20_percent(attempts: int) -> None:
    full = delay(attempts, 0.0)
    assert full is not None
    shortest = delay(attempts, 0.999999)
    assert shortest is not None
    assert full * 0.8 <= shortest < full
    assert delay(attempts, 0.5) == full * 0.9


def test_jitter_never_goes_past_the_cap() -> None:
    for fraction in (0.0, 0.25, 0.5, 0.75, 0.99):
        found = delay(40, fraction)
        assert found is not None
        assert found <= POLICY.max_delay


def test_a_message_past_its_lifetime_is_dead() -> None:
    assert delay(3, now=CREATED + POLICY.lifetime) is None
    assert delay(3, now=CREATED + POLICY.lifetime + timedelta(hours=1)) is None


def test_the_last_attempt_is_moved_up_to_the_end_of_the_lifetime() -> None:
    now = CREATED + POLICY.lifetime - timedelta(minutes=5)
    assert next_attempt(POLICY, 20, now, CREATED, 0.0) == CREATED + POLICY.lifetime


@pytest.mark.parametrize(("attempts", "fraction"), [(0, 0.5), (1, 1.0), (1, -0.1)])
def test_nonsense_arguments_are_refused(attempts: int, fraction: float) -> None:
    with pytest.raises(ValueError, match="need"):
        next_attempt(POLICY, attempts, NOW, CREATED, fraction)


def test_a_nonsense_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="need"):
        RetryPolicy(jitter=1.5)


# --- the decision table, one case per row ---------------------------------------------------------


def decision(
    retryable: bool, category: str, now: datetime = NOW, scope: Scope = Scope.RELAY
) -> tuple[str, datetime | None]:
    found = decide(
        retryable=retryable,
        category=category,
        scope=scope,
        policy=POLICY,
        attempts=2,
        now=now,
        created_at=CREATED,
        random_fraction=0.0,
    )
    return found.status, found.next_attempt_at


def test_a_refused_recipient_is_dead_at_once() -> None:
    assert decision(False, "smtp_recipient") == ("dead", None)


def test_a_retryable_failure_waits_for_the_backoff() -> None:
    assert decision(True, "smtp_throttled") == ("retry_wait", NOW + timedelta(seconds=60))


def test_a_retryable_failure_past_the_lifetime_is_dead() -> None:
    assert decision(True, "network", now=CREATED + POLICY.lifetime) == ("dead", None)


@pytest.mark.parametrize("category", ["smtp_auth", "oauth", "oauth_reauth", "tls_handshake", "smtp_policy"])
def test_other_permanent_failures_wait_for_the_configuration(category: str) -> None:
    assert decision(False, category) == ("waiting_config", None)


def test_a_new_message_is_queued_due_now_with_a_message_id() -> None:
    message = new_outbox_message(
        event_type="test",
        recipients=["ops@example.com"],
        subject="s",
        text="t",
        html="<p>t</p>",
        from_address="alerts@example.com",
        now=NOW,
        policy=POLICY,
    )
    assert (message.status, message.attempts, message.next_attempt_at) == ("queued", 0, NOW)
    assert message.expires_at == NOW + timedelta(days=2)
    assert message.message_id.startswith("<") and message.message_id.endswith("@example.com>")


@pytest.mark.parametrize("scope", [Scope.MESSAGE, Scope.RECIPIENT])
@pytest.mark.parametrize("category", ["graph", "gmail_api", "smtp_other"])
def test_a_permanent_refusal_of_the_message_itself_is_dead_at_once(category: str, scope: Scope) -> None:
    assert decision(False, category, scope=scope) == ("dead", None)


@pytest.mark.parametrize("category", ["graph", "gmail_api"])
def test_a_permanent_refusal_of_the_configuration_waits_for_it(category: str) -> None:
    assert decision(False, category, scope=Scope.RELAY) == ("waiting_config", None)


def test_a_retryable_refusal_of_the_message_still_waits_for_the_backoff() -> None:
    assert decision(True, "graph", scope=Scope.MESSAGE) == ("retry_wait", NOW + timedelta(seconds=60))
