"""Claiming reads only the batch it takes, however long the queue (issue #18: the drain slowed with
the queue's length, each claim sorting every due row).

On SQLite the claim must be found through the `(status, next_attempt_at)` index in order, stopping
at the limit: no scan of the due rows, no sort of them all. Checked on SQLite's own plan of the
claim statement as it ran, not by timing it. The order itself (oldest due first, across queued,
retry_wait and expired leases) is checked on both databases.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import text

from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.outbox_repository import SqlOutboxRepository
from alertmail.domain.outbox import OutboxMessage, RetryPolicy, new_outbox_message

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def message(subject: str, due: datetime) -> OutboxMessage:
    queued = new_outbox_message(
        event_type="system.disk_full",
        recipients=["ops@example.com"],
        subject=subject,
        text="The disk is full.",
        html="",
        from_address="alerts@example.com",
        now=due,
        policy=RetryPolicy(),
    )
    return replace(queued, next_attempt_at=due)


async def test_a_claim_on_sqlite_reads_the_index_in_order_and_sorts_nothing(sqlite_url: str) -> None:
    async with Database.from_url(sqlite_url) as database:
        await database.upgrade()
        outbox = SqlOutboxRepository(database.sessionmaker, dialect="sqlite")
        await outbox.enqueue_many([message(f"m{n}", NOW - timedelta(seconds=n)) for n in range(200)])
        statements: list[tuple[str, Any]] = []
        sa_event.listen(
            database.engine.sync_engine,
            "before_cursor_execute",
            lambda _c, _cur, sql, parameters, *_: statements.append((sql, parameters)),
        )
        claimed = await outbox.claim("worker-a", NOW, LEASE, limit=10)
        assert len(claimed) == 10
        (claim,) = [(sql, p) for sql, p in statements if sql.lstrip().upper().startswith("UPDATE")]
        async with database.engine.connect() as connection:
            plan = await connection.run_sync(lambda sync: _plan(sync, claim))
    reads = [step for step in plan if step.startswith(("SCAN outbox", "SEARCH outbox", "MULTI-INDEX"))]
    assert reads
    # Every read of the table is an index search in next_attempt_at order (or by id): none scans.
    assert [s for s in reads if "ix_outbox_status_next_attempt_at" not in s and "(id=?)" not in s] == []
    # The only sort is the last step: the merge of at most 3 x limit ids, not of every due row.
    assert [i for i, step in enumerate(plan) if "TEMP B-TREE" in step] in ([], [len(plan) - 1])


def _plan(connection: Any, statement: tuple[str, Any]) -> list[str]:
    sql, parameters = statement
    rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, tuple(parameters)).all()
    return [row[3] for row in rows]


async def test_the_oldest_due_are_claimed_first_whatever_their_status(database: Database) -> None:
    outbox = SqlOutboxRepository(database.sessionmaker, dialect=database.dialect)
    oldest_retry = message("retry, oldest", NOW - timedelta(minutes=9))
    expired = message("lease expired", NOW - timedelta(minutes=8))
    queued = message("queued", NOW - timedelta(minutes=7))
    newer_retry = message("retry, newer", NOW - timedelta(minutes=6))
    await outbox.enqueue_many([queued, expired, oldest_retry, newer_retry, message("later", NOW + LEASE)])
    # `expired` was claimed long ago by a worker that died; the retries failed once.
    await outbox.claim("dead-worker", NOW - timedelta(minutes=8), timedelta(minutes=1), limit=1)
    async with database.engine.begin() as connection:
        await connection.execute(
            text("UPDATE outbox SET status = 'retry_wait' WHERE id IN (:a, :b)"),
            {"a": oldest_retry.id, "b": newer_retry.id},
        )

    claimed = await outbox.claim("worker-a", NOW, LEASE, limit=3)
    assert [m.subject for m in claimed] == ["retry, oldest", "lease expired", "queued"]
    claimed = await outbox.claim("worker-a", NOW, LEASE, limit=10)
    assert [m.subject for m in claimed] == ["retry, newer"]
