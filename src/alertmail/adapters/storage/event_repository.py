"""Events, their coalescing windows, and the outbox rows they become, written together.

An event, the window it counts in and the e-mail it causes are written in one transaction: an
event is accepted once it is committed, and it is never recorded as mailed without its outbox row
(nor the other way round). The window is an upsert on (type, dedupe key, bucket): concurrent
events of one key, from one process or several nodes, agree on which of them was the first.

Events are recorded in batches (`record_many`, see event_batch.py): the event service hands them
to one writer per process, which commits whatever queued meanwhile in one transaction. SQLite:
that transaction begins IMMEDIATE, taking the write lock before it reads anything, and runs in one
hand-off to the `SqliteWriter`'s thread when there is one (a database file).

A scheduled job's claim (`scheduler_runs`) can be written in the same transaction, so the daily
notice's "done for today" never commits without the notice; so can a switch of the active
transport (`TransportSwitch`), so "fallback in use" is mailed exactly once cluster-wide.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.util import await_only

from alertmail.adapters.storage.database import SQLITE_BEGIN
from alertmail.adapters.storage.event_batch import record_batch
from alertmail.adapters.storage.keyset import older_than
from alertmail.adapters.storage.models import EventRow, EventWindowRow, OutboxRow, SchedulerRunRow
from alertmail.adapters.storage.outbox_repository import outbox_values
from alertmail.adapters.storage.sqlite_writer import AwaitFn, SqliteWriter
from alertmail.adapters.storage.transport_state_repository import apply_switch
from alertmail.adapters.storage.upsert import upsert_into
from alertmail.domain.delivery_report import PageCursor
from alertmail.domain.events import (
    DIGEST_LISTED,
    Digest,
    DigestWindow,
    Event,
    EventRecorded,
    StoredEvent,
)
from alertmail.domain.fallback import TransportSwitch
from alertmail.domain.outbox import OutboxMessage
from alertmail.domain.schedule import AlreadyClaimedError, RunClaim

__all__ = ["SqlEventRepository"]

Sessions = async_sessionmaker[AsyncSession]
# The e-mails of the events mailed at once (None: nobody to mail); see event_batch.py.
MakeMessages = Callable[[builtins.list[Event]], Awaitable[builtins.list[OutboxMessage | None]]]


class SqlEventRepository:
    def __init__(self, sessions: Sessions, *, dialect: str, writer: SqliteWriter | None = None) -> None:
        self._sessions = sessions
        self._dialect = dialect
        self._writer = writer

    async def record_many(
        self,
        events: Sequence[Event],
        *,
        window: timedelta,
        max_mailed_keys: int,
        make_messages: MakeMessages,
        claim: RunClaim | TransportSwitch | None = None,
    ) -> builtins.list[EventRecorded]:
        """Record `events` in one transaction and queue the e-mails of those mailed at once.

        An event is mailed at once when it is the first of its key in its window; `make_messages`
        is called with those only (when there are any), and None means there is nobody to mail. At most
        `max_mailed_keys` keys of one type are mailed one by one per window: the others wait for
        the type's digest, so a storm of distinct keys stays bounded too. The results come in the
        order of `events`.

        With `claim` (a scheduled job's run), the claim is the transaction's first write and
        commits with the rest; `AlreadyClaimedError` and nothing written when some node has it.
        A `TransportSwitch` is such a claim too: the switch's notice commits with the switch.
        """
        if not events:
            return []

        def record(connection: Connection, wait_for: AwaitFn) -> builtins.list[EventRecorded]:
            return record_batch(
                connection,
                events,
                window=window,
                max_mailed_keys=max_mailed_keys,
                make_messages=lambda mailed: wait_for(make_messages(mailed)),
            )

        if claim is None and self._writer is not None:
            return await self._writer.transaction(record)
        async with self._sessions.begin() as session:
            # SQLite: take the write lock at BEGIN, so the batch never waits half-way for it.
            await session.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})
            if isinstance(claim, TransportSwitch):
                await apply_switch(session, claim)
            elif claim is not None:
                await self._claim(session, claim)
            # One greenlet for the batch's statements, not one per statement.
            return await session.run_sync(lambda sync: record(sync.connection(), await_only))

    async def _claim(self, session: AsyncSession, claim: RunClaim) -> None:
        claimed = await session.execute(
            upsert_into(SchedulerRunRow, self._dialect)
            .values(job=claim.job, period=claim.period, ran_at=claim.at, node=claim.node)
            .on_conflict_do_nothing(index_elements=["job", "period"])
            .returning(SchedulerRunRow.job)
        )
        if claimed.scalar_one_or_none() is None:
            raise AlreadyClaimedError(f"{claim.job} already ran for {claim.period}")

    async def take_due_digests(
        self, now: datetime, build: Callable[[Digest], OutboxMessage | None], *, limit: int = 50
    ) -> int:
        """Queue one digest per type for every ended window with repeats; how many were queued.

        The windows are taken (digest_pending cleared) in the same transaction as the digest's
        outbox row is written, so a digest is queued once even when several nodes flush at once.
        """
        async with self._sessions() as session:
            due = (
                await session.execute(
                    select(EventWindowRow.event_type, EventWindowRow.bucket_start)
                    .where(EventWindowRow.digest_pending.is_(True), EventWindowRow.closes_at <= now)
                    .group_by(EventWindowRow.event_type, EventWindowRow.bucket_start)
                    .limit(limit)
                )
            ).all()
        queued = 0
        for event_type, bucket_start in due:
            queued += await self._take_digest(event_type, bucket_start, build)
        return queued

    async def _take_digest(
        self, event_type: str, bucket_start: datetime, build: Callable[[Digest], OutboxMessage | None]
    ) -> int:
        async with self._sessions.begin() as session:
            taken = (
                await session.scalars(
                    update(EventWindowRow)
                    .where(
                        EventWindowRow.event_type == event_type,
                        EventWindowRow.bucket_start == bucket_start,
                        EventWindowRow.digest_pending.is_(True),
                    )
                    .values(digest_pending=False)
                    .returning(EventWindowRow)
                    .execution_options(synchronize_session=False)
                )
            ).all()
            if not taken:
                return 0  # another node took them first
            taken = sorted(taken, key=lambda w: (-w.coalesced, w.dedupe_key))
            latest = await self._latest_details(session, [w.id for w in taken[:DIGEST_LISTED]])
            message = build(_digest(event_type, bucket_start, taken, latest))
            if message is None:
                return 0
            await session.execute(insert(OutboxRow).values(**outbox_values(message)))
            await session.execute(
                update(EventRow)
                .where(EventRow.window_id.in_([w.id for w in taken]), EventRow.disposition == "coalesced")
                .values(outbox_id=message.id)
                .execution_options(synchronize_session=False)
            )
        return 1

    async def _latest_details(
        self, session: AsyncSession, window_ids: builtins.list[int]
    ) -> dict[int, Mapping[str, Any]]:
        newest = (
            select(EventRow.window_id, func.max(EventRow.received_at).label("at"))
            .where(EventRow.window_id.in_(window_ids))
            .group_by(EventRow.window_id)
            .subquery()
        )
        rows = await session.execute(
            select(EventRow.window_id, EventRow.details).join(
                newest, (EventRow.window_id == newest.c.window_id) & (EventRow.received_at == newest.c.at)
            )
        )
        return {window_id: details for window_id, details in rows}

    async def list(
        self,
        *,
        event_type: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        disposition: str | None = None,
        before: PageCursor | None = None,
    ) -> builtins.list[StoredEvent]:
        """The newest events first (received_at, then id, both descending), strictly after `before`."""
        order = (EventRow.received_at.desc(), EventRow.id.desc())
        query = select(EventRow).order_by(*order).limit(limit)
        if before is not None:
            query = query.where(older_than(EventRow.received_at, EventRow.id, before))
        if event_type is not None:
            query = query.where(EventRow.event_type == event_type)
        if disposition is not None:
            query = query.where(EventRow.disposition == disposition)
        if since is not None:
            query = query.where(EventRow.received_at >= since)
        async with self._sessions() as session:
            return [_stored(row) for row in await session.scalars(query)]

    async def count(self, *, event_type: str | None = None) -> int:
        query = select(func.count()).select_from(EventRow)
        if event_type is not None:
            query = query.where(EventRow.event_type == event_type)
        async with self._sessions() as session:
            return int(await session.scalar(query) or 0)


def _stored(row: EventRow) -> StoredEvent:
    event = Event(
        id=row.id,
        event_type=row.event_type,
        details=row.details,
        dedupe_key=row.dedupe_key,
        source=row.source,
        received_at=row.received_at,
        node=row.node,
    )
    return StoredEvent(event, row.disposition, row.outbox_id)


def _digest(
    event_type: str,
    bucket_start: datetime,
    taken: Sequence[EventWindowRow],
    latest: Mapping[int, Mapping[str, Any]],
) -> Digest:
    """The digest of the windows `taken` (most repeated first): the first DIGEST_LISTED listed,
    each with its latest event's details, and how many more there were."""
    listed = taken[:DIGEST_LISTED]
    return Digest(
        event_type=event_type,
        window_start=bucket_start,
        window_end=taken[0].closes_at,
        windows=tuple(
            DigestWindow(w.dedupe_key, w.coalesced, w.first_at, w.last_at, latest.get(w.id, {}))
            for w in listed
        ),
        more_windows=len(taken) - len(listed),
        total=sum(w.coalesced for w in taken),
    )
