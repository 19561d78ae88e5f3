"""Messages put straight into the outbox of a running app, in any state, for the Delivery page's tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from alertmail.adapters.storage.outbox_repository import SqlOutboxRepository
from alertmail.composition import Container
from alertmail.domain.outbox import (
    OutboxMessage,
    OutboxStatus,
    RecipientReply,
    RetryPolicy,
    new_outbox_message,
)

__all__ = ["REFUSED_REPLY", "give_up", "seed", "seed_refused_recipient"]

REFUSED = RecipientReply(550, "5.1.1 <refused@example.com>: mailbox unavailable")
REFUSED_REPLY = str(REFUSED)
LATER = datetime.now(UTC) + timedelta(days=1)  # never due while a test runs: the worker leaves it be


async def seed(
    container: Container,
    subject: str,
    status: OutboxStatus,
    *,
    created_at: datetime | None = None,
    recipients: tuple[str, ...] = ("ops@example.com",),
    **changes: object,
) -> OutboxMessage:
    now = created_at or datetime.now(UTC) - timedelta(minutes=5)
    message = new_outbox_message(
        event_type="failover.completed",
        recipients=recipients,
        subject=subject,
        text="body",
        html="<p>body</p>",
        from_address="alerts@example.com",
        now=now,
        policy=RetryPolicy(),
    )
    # A dead message died when it was queued, unless the test says when (`dead_at=`).
    changes.setdefault("dead_at", now if status == "dead" else None)
    message = replace(message, status=status, next_attempt_at=LATER, **changes)  # type: ignore[arg-type]
    repository = SqlOutboxRepository(container.database.sessionmaker, dialect=container.database.dialect)
    return await repository.enqueue(message)


async def seed_refused_recipient(container: Container, **changes: object) -> OutboxMessage:
    """A dead message that reached got@example.com, while the relay refused refused@example.com (550)."""
    return await seed(
        container,
        "Failover completed",
        "dead",
        recipients=("got@example.com", "refused@example.com"),
        recipient_states={"got@example.com": "sent", "refused@example.com": "dead"},
        recipient_replies={"refused@example.com": REFUSED},
        attempts=1,
        # As delivery writes it: the classifier's words for every refusal, not one relay reply.
        last_error="refused@example.com: The relay refused the recipient address",
        last_category="smtp_recipient",
        **changes,
    )


async def give_up(
    outbox: SqlOutboxRepository,
    id: str,
    owner: str,
    now: datetime,
    reason: str = "550 5.1.1",
    category: str = "smtp_recipient",
) -> bool:
    """`owner`'s attempt at a claimed message ends it dead (what `decide` answers to a 550); False
    when `owner` no longer holds its lease."""
    return await outbox.mark_failed(
        id, owner, now=now, status="dead", next_attempt_at=None, last_error=reason, last_category=category
    )
