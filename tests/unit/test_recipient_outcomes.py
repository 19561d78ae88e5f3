"""Settling recipients after an attempt (`domain.outbox.settle_recipients`): a property over any
mix of earlier outcomes and replies, and the rows of its table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from alertmail.domain.outbox import (
    OutboxMessage,
    RecipientReply,
    RetryPolicy,
    new_outbox_message,
    settle_recipients,
)

POLICY = RetryPolicy()
CREATED = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
RECIPIENTS = ("a@example.com", "b@example.com", "c@example.com")

earlier_states = st.fixed_dictionaries({r: st.sampled_from(["sent", "pending", "dead"]) for r in RECIPIENTS})
replies = st.fixed_dictionaries({r: st.sampled_from([None, 250, 450, 452, 550, 553]) for r in RECIPIENTS})


def refusal(code: int | None, recipient: str = "") -> RecipientReply:
    return RecipientReply(code, f"refused {recipient} with {code}")


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
    refused = {r: refusal(code, r) for r, code in reply.items() if code is not None and code >= 400}
    settled = settle_recipients(before, refused, policy=POLICY, now=now, random_fraction=0.5)
    for recipient in RECIPIENTS:
        if earlier[recipient] != "pending":
            assert settled.states[recipient] == earlier[recipient]  # an ended recipient never moves
        elif recipient not in refused:
            assert settled.states[recipient] == "sent"
        elif (refused[recipient].code or 0) >= 500:
            assert settled.states[recipient] == "dead"
        else:
            assert settled.states[recipient] in {"pending", "dead"}
        tried_now = earlier[recipient] == "pending" and recipient in refused
        assert settled.replies.get(recipient) == (refused[recipient] if tried_now else None)
    states = set(settled.states.values())
    if "pending" in states:
        assert settled.status == "retry_wait" and settled.next_attempt_at is not None
        assert settled.next_attempt_at <= CREATED + POLICY.lifetime
    else:
        assert settled.status == ("sent" if states == {"sent"} else "dead")
        assert settled.next_attempt_at is None


def test_a_4xx_past_the_lifetime_gives_that_recipient_up() -> None:
    late = CREATED + POLICY.lifetime
    settled = settle_recipients(
        message(), {"b@example.com": refusal(452)}, policy=POLICY, now=late, random_fraction=0
    )
    assert settled.status == "dead"
    assert dict(settled.states) == {"a@example.com": "sent", "b@example.com": "dead", "c@example.com": "sent"}


def test_a_sent_message_reports_every_recipient_delivered() -> None:
    sent = replace(message({"a@example.com": "pending"}), status="sent")
    assert (sent.delivered_recipients, sent.pending_recipients) == (RECIPIENTS, ())


def test_each_refused_recipient_keeps_its_own_reply_and_an_accepted_one_drops_its_old_refusal() -> None:
    busy, unknown = RecipientReply(452, "4.2.2 mailbox full"), RecipientReply(550, "5.1.1 no such user")
    first = settle_recipients(
        message(),
        {"a@example.com": busy, "b@example.com": unknown},
        policy=POLICY,
        now=CREATED,
        random_fraction=0,
    )
    assert dict(first.replies) == {"a@example.com": busy, "b@example.com": unknown}
    assert dict(first.states) == {
        "a@example.com": "pending",
        "b@example.com": "dead",
        "c@example.com": "sent",
    }
    after = replace(message(dict(first.states), attempts=2), recipient_replies=first.replies)
    second = settle_recipients(
        after, {}, policy=POLICY, now=CREATED + timedelta(minutes=1), random_fraction=0
    )
    assert dict(second.replies) == {"b@example.com": unknown}  # a@ was accepted on the second attempt
    assert second.status == "dead"


def test_a_refusal_without_a_code_waits_like_a_4xx() -> None:
    no_code = RecipientReply(None, "the connection closed")
    settled = settle_recipients(
        message(), {"a@example.com": no_code}, policy=POLICY, now=CREATED, random_fraction=0
    )
    assert (settled.states["a@example.com"], settled.status) == ("pending", "retry_wait")
    assert str(settled.replies["a@example.com"]) == "the connection closed"
    assert str(RecipientReply(550, "5.1.1 no such user")) == "550 5.1.1 no such user"
