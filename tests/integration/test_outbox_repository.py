"""The outbox on SQLite and PostgreSQL: durable enqueue, leases, stale owners, concurrent claimers."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.outbox_repository import SqlOutboxRepository
from alertmail.domain.outbox import OutboxMessage, RetryPolicy, new_outbox_message
from alertmail.errors import ConflictError, NotFoundError
from tests.support.outbox import give_up

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


@pytest.fixture
def outbox(database: Database) -> SqlOutboxRepository:
    return SqlOutboxRepository(database.sessionmaker, dialect=database.dialect)


def message(subject: str = "disk full", now: datetime = NOW) -> OutboxMessage:
    return new_outbox_message(
        event_type="system.disk_full",
        dedupe_key="sda1",
        recipients=["ops@example.com", "oncall@example.com"],
        subject=subject,
        text="The disk is full.",
        html="<p>The disk is full.</p>",
        from_address="alerts@example.com",
        now=now,
        policy=RetryPolicy(),
    )


async def test_enqueue_claim_and_mark_sent_round_trip(outbox: SqlOutboxRepository) -> None:
    queued = await outbox.enqueue(message())
    assert await outbox.get(queued.id) == queued

    (claimed,) = await outbox.claim("worker-a", NOW, LEASE, limit=10)
    assert (claimed.id, claimed.status, claimed.attempts) == (queued.id, "sending", 1)
    assert (claimed.lease_owner, claimed.lease_expires_at) == ("worker-a", NOW + LEASE)
    assert claimed.message_id == queued.message_id
    assert claimed.recipients == ("ops@example.com", "oncall@example.com")

    assert await outbox.mark_sent(queued.id, "worker-a", NOW + timedelta(seconds=2))
    sent = await outbox.get(queued.id)
    assert sent is not None
    assert (sent.status, sent.sent_at, sent.lease_owner, sent.next_attempt_at) == (
        "sent",
        NOW + timedelta(seconds=2),
        None,
        None,
    )
    assert await outbox.claim("worker-a", NOW + timedelta(days=1), LEASE, limit=10) == []
    assert (await outbox.counts())["sent"] == 1


async def test_only_due_messages_are_claimed_oldest_first_up_to_the_limit(
    outbox: SqlOutboxRepository,
) -> None:
    later = await outbox.enqueue(message("later", NOW + timedelta(minutes=1)))
    first = await outbox.enqueue(message("first", NOW - timedelta(minutes=2)))
    second = await outbox.enqueue(message("second", NOW - timedelta(minutes=1)))

    claimed = await outbox.claim("worker-a", NOW, LEASE, limit=1)
    assert [m.id for m in claimed] == [first.id]
    claimed = await outbox.claim("worker-a", NOW, LEASE, limit=10)
    assert [m.id for m in claimed] == [second.id]
    assert (await outbox.get(later.id)) == later


async def test_a_leased_message_is_claimed_again_only_once_its_lease_expired(
    outbox: SqlOutboxRepository,
) -> None:
    queued = await outbox.enqueue(message())
    await outbox.claim("worker-a", NOW, LEASE, limit=10)

    assert await outbox.claim("worker-b", NOW + LEASE - timedelta(seconds=1), LEASE, limit=10) == []
    (taken,) = await outbox.claim("worker-b", NOW + LEASE, LEASE, limit=10)
    assert (taken.id, taken.lease_owner, taken.attempts) == (queued.id, "worker-b", 2)
    assert taken.message_id == queued.message_id


async def test_a_stale_owner_cannot_record_an_outcome(outbox: SqlOutboxRepository) -> None:
    queued = await outbox.enqueue(message())
    await outbox.claim("worker-a", NOW, LEASE, limit=10)
    await outbox.claim("worker-b", NOW + LEASE, LEASE, limit=10)

    assert not await outbox.mark_sent(queued.id, "worker-a", NOW + LEASE)
    assert not await give_up(outbox, queued.id, "worker-a", NOW)
    current = await outbox.get(queued.id)
    assert current is not None
    assert (current.status, current.lease_owner) == ("sending", "worker-b")
    assert await outbox.mark_sent(queued.id, "worker-b", NOW + LEASE)
    assert not await outbox.mark_sent(queued.id, "worker-b", NOW + LEASE)  # once only


async def test_a_failed_message_waits_for_its_retry_time(outbox: SqlOutboxRepository) -> None:
    queued = await outbox.enqueue(message())
    await outbox.claim("worker-a", NOW, LEASE, limit=10)
    retry_at = NOW + timedelta(seconds=30)
    assert await outbox.mark_failed(
        queued.id,
        "worker-a",
        now=NOW,
        status="retry_wait",
        next_attempt_at=retry_at,
        last_error="421 4.7.0 Try again later",
        last_category="smtp_throttled",
    )
    waiting = await outbox.get(queued.id)
    assert waiting is not None
    assert (waiting.status, waiting.last_category, waiting.lease_owner) == (
        "retry_wait",
        "smtp_throttled",
        None,
    )

    assert await outbox.claim("worker-a", retry_at - timedelta(seconds=1), LEASE, limit=10) == []
    (again,) = await outbox.claim("worker-a", retry_at, LEASE, limit=10)
    assert (again.attempts, again.last_error) == (2, "421 4.7.0 Try again later")


async def test_release_waiting_requeues_messages_waiting_for_the_configuration(
    outbox: SqlOutboxRepository,
) -> None:
    waiting = [await outbox.enqueue(message(f"m{i}")) for i in range(3)]
    other = await outbox.enqueue(message("other"))
    await outbox.claim("worker-a", NOW, LEASE, limit=10)
    for queued in waiting:
        await outbox.mark_failed(
            queued.id,
            "worker-a",
            now=NOW,
            status="waiting_config",
            next_attempt_at=None,
            last_error="535 5.7.139",
            last_category="smtp_auth",
        )
    assert (await outbox.counts())["waiting_config"] == 3
    assert await outbox.claim("worker-b", NOW + timedelta(days=1), LEASE, limit=10) == [
        await outbox.get(other.id)
    ]

    later = NOW + timedelta(hours=1)
    assert await outbox.release_waiting(later) == 3
    assert await outbox.release_waiting(later) == 0
    released = await outbox.list(status="queued")
    assert {m.id for m in released} == {m.id for m in waiting}
    assert {(m.next_attempt_at, m.attempts) for m in released} == {(later, 1)}


async def test_a_dead_message_can_be_retried_by_hand(outbox: SqlOutboxRepository) -> None:
    queued = await outbox.enqueue(message())
    with pytest.raises(ConflictError, match="queued"):
        await outbox.retry(queued.id, NOW)
    await outbox.claim("worker-a", NOW, LEASE, limit=10)
    died = NOW + timedelta(seconds=20)
    assert await give_up(outbox, queued.id, "worker-a", died)
    dead = await outbox.get(queued.id)
    assert dead is not None and (dead.status, dead.dead_at) == ("dead", died)

    later = NOW + timedelta(hours=1)
    retried = await outbox.retry(queued.id, later)
    assert (retried.status, retried.attempts, retried.next_attempt_at) == ("queued", 1, later)
    assert retried.dead_at is None, "a message retried by hand is no longer dead"
    assert [m.id for m in await outbox.claim("worker-a", later, LEASE, limit=10)] == [queued.id]
    with pytest.raises(NotFoundError):
        await outbox.retry("no-such-id", later)


async def test_list_and_counts(outbox: SqlOutboxRepository) -> None:
    assert await outbox.list() == []
    assert set((await outbox.counts()).values()) == {0}
    messages = [await outbox.enqueue(message(f"m{i}", NOW + timedelta(seconds=i))) for i in range(5)]
    await outbox.claim("worker-a", NOW + timedelta(seconds=1), LEASE, limit=10)

    assert [m.id for m in await outbox.list(limit=3)] == [m.id for m in reversed(messages)][:3]
    assert [m.id for m in await outbox.list(status="sending")] == [messages[1].id, messages[0].id]
    counts = await outbox.counts()
    assert (counts["queued"], counts["sending"], counts["dead"]) == (3, 2, 0)


async def test_concurrent_claimers_take_every_message_exactly_once(outbox: SqlOutboxRepository) -> None:
    queued = [await outbox.enqueue(message(f"m{i}")) for i in range(400)]

    async def worker(owner: str) -> list[str]:
        taken: list[str] = []
        while batch := await outbox.claim(owner, NOW, LEASE, limit=7):
            for claimed in batch:
                assert await outbox.mark_sent(claimed.id, owner, NOW)
                taken.append(claimed.id)
        return taken

    results = await asyncio.gather(*(worker(f"worker-{n}") for n in range(4)))

    counted = Counter(id for taken in results for id in taken)
    assert set(counted) == {m.id for m in queued}
    assert set(counted.values()) == {1}
    assert sum(1 for taken in results if taken) > 1  # the claimers really did overlap
    assert (await outbox.counts())["sent"] == 400
