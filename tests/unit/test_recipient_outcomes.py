"""Settling recipients after an attempt (`domain.outbox.settle_recipients`): a property over any
mix of earlier outcomes and replies, and the rows of its table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from alertmail.domain.outbox import OutboxMessage, RetryPolicy, new_outbox_message, settle_recipients

POLICY = RetryPolicy()
CREATED = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
RECIPIENTS = ("a@example.com", "b@example.com", "c@example.com")

earlier_states = st.fixed_dictionaries({r: st.sampled_from(["sent", "pending", "dead"]) for r in RECIPIENTS})
replies = st.fixed_dictionaries({r: st.sampled_from([None, 250, 450, 452, 550, 553]) for r in RECIPIENTS})


def message(states: dict[str, str] | None = None, attempts: int = 1) -> OutboxMessage:
    queued = new_outbox_message(
        event_type="test",
        recipients=RECIPIENTS,
        subject="s",
        text="t",
        html="h",
        from_address="alerts@example.com",
        now=CREATED,
        policy=POLICY,
    )
    return replace(queued, status="sending", attempts=attempts, recipient_states=states or {})  # type: ignore[arg-type]


@given(earlier_states, replies, st.integers(min_value=1, max_value=60), st.integers(0, 3 * 24 * 60))
def test_accepted_stay_accepted_only_pending_move_and_the_status_follows_the_recipients(
    earlier: dict[str, str], reply: dict[str, int | None], attempts: int, minutes: int
) -> None:
    before = message(earlier, attempts)
    now = CREATED + timedelta(minutes=minutes)
    refused = {r: code for r, code in reply.items() if code is not None and code >= 400}
    settled = settle_recipients(before, refused, policy=POLICY, now=now, random_fraction=0.5)
    for recipient in RECIPIENTS:
        if earlier[recipient] != "pending":
            assert settled.states[recipient] == earlier[recipient]  # an ended recipient never moves
        elif recipient not in refused:
            assert settled.states[recipient] == "sent"
        elif refused[recipient] >= 500:
            assert settled.states[recipient] == "dead"
        else:
            assert settled.states[recipient] in {"pending", "dead"}
    states = set(settled.states.values())
    if "pending" in states:
        assert settled.status == "retry_wait" and settled.next_attempt_at is not None
        assert settled.next_attempt_at <= CREATED + POLICY.lifetime
    else:
        assert settled.status == ("sent" if states == {"sent"} else "dead")
        assert settled.next_attempt_at is None


def test_a_4xx_past_the_lifetime_gives_that_recipient_up() -> None:
    late = CREATED + POLICY.lifetime
    settled = settle_recipients(message(), {"b@example.com": 452}, policy=POLICY, now=late, random_fraction=0)
    assert settled.status == "dead"
    assert dict(settled.states) == {"a@example.com": "sent", "b@example.com": "dead", "c@example.com": "sent"}


def test_a_sent_message_reports_every_recipient_delivered() -> None:
    sent = replace(message({"a@example.com": "pending"}), status="sent")
    assert (sent.delivered_recipients, sent.pending_recipients) == (RECIPIENTS, ())
