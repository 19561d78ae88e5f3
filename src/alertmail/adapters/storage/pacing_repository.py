"""The pacing tokens in the database (see domain/pacing.py for what they mean and why).

Taking a token counts the busy ones and adds one; two takers must not both see the last one free:
- PostgreSQL: the taker locks the bucket's row (`SELECT ... FOR UPDATE`) first, so takers of one
  bucket go one at a time until each commits; a renewal or a give-back touches only its own rows;
- SQLite: the transaction begins IMMEDIATE, taking the database's write lock before it reads, so
  `serve`, `worker` and the CLI on one file take one at a time (the others wait, busy timeout).
A taker may take several tokens at once (as many as are free, up to what it asks for), in one
INSERT; a worker gives back the tokens of its sent messages together (one UPDATE, executemany).
A taker refused is recorded as waiting (bucket `<bucket>:wanted`, since its first refusal), and a
free token goes to the longest waiting first. Tokens already free and waiters gone are deleted by
the next taker of their bucket: the table holds the busy tokens, the live waiters, and whatever
freed since the last take.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alertmail.adapters.storage.database import SQLITE_BEGIN
from alertmail.adapters.storage.models import PacingBucketRow, PacingTokenRow
from alertmail.adapters.storage.upsert import upsert_into
from alertmail.domain.pacing import (
    AHEAD_POLL,
    WAITING_ALIVE,
    Taken,
    free_to_take,
    position_to_wait_for,
    wanted,
)

__all__ = ["SqlPacingRepository"]


class SqlPacingRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, dialect: str) -> None:
        self._sessions = sessions
        self._dialect = dialect

    async def take(
        self, bucket: str, holder: str, *, limit: int, now: datetime, until: datetime, count: int = 1
    ) -> Taken:
        tokens, waiting = PacingTokenRow, wanted(bucket)
        async with self._sessions.begin() as session:
            await self._one_taker_at_a_time(session, bucket)
            await session.execute(
                delete(tokens)
                .where(tokens.bucket.in_((bucket, waiting)), tokens.free_at <= now)
                .execution_options(synchronize_session=False)
            )
            # Counted, not loaded: a bucket of 10,000 a minute holds that many busy tokens.
            busy = await session.scalar(select(func.count()).where(tokens.bucket == bucket)) or 0
            waiters = (await session.scalars(select(tokens).where(tokens.bucket == waiting))).all()
            mine = next((row for row in waiters if row.holder == holder), None)
            ahead = sum(1 for row in waiters if row is not mine and _before(row, mine))
            position = position_to_wait_for(busy, limit, ahead=ahead)
            if position is not None:
                await self._keep_waiting(session, mine, waiting, holder, now)
                return Taken(None, await self._wait(session, bucket, position, busy, now))
            if mine is not None:
                await session.delete(mine)
            taken = [uuid.uuid4().hex for _ in range(min(count, free_to_take(busy, limit, ahead=ahead)))]
            rows = [
                {"id": token, "bucket": bucket, "holder": holder, "free_at": until, "created_at": now}
                for token in taken
            ]
            await session.execute(insert(_TOKENS), rows)
        return Taken(taken[0], more=tuple(taken[1:]))

    async def _wait(
        self, session: AsyncSession, bucket: str, position: int, busy: int, now: datetime
    ) -> timedelta:
        """How long until the busy token at `position` (soonest free first) is free."""
        if position >= busy:
            return AHEAD_POLL
        tokens = PacingTokenRow
        free_at = await session.scalar(
            select(tokens.free_at)
            .where(tokens.bucket == bucket)
            .order_by(tokens.free_at)
            .offset(position)
            .limit(1)
        )
        return AHEAD_POLL if free_at is None else free_at - now

    async def _keep_waiting(
        self, session: AsyncSession, mine: PacingTokenRow | None, waiting: str, holder: str, now: datetime
    ) -> None:
        if mine is not None:
            mine.free_at = now + WAITING_ALIVE
            return
        session.add(
            PacingTokenRow(
                id=uuid.uuid4().hex,
                bucket=waiting,
                holder=holder,
                free_at=now + WAITING_ALIVE,
                created_at=now,
            )
        )

    async def _one_taker_at_a_time(self, session: AsyncSession, bucket: str) -> None:
        if self._dialect != "postgresql":
            await session.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})
            return
        locked = select(PacingBucketRow.name).where(PacingBucketRow.name == bucket).with_for_update()
        if await session.scalar(locked) is None:
            # A bucket the migration did not create: made once, by whichever taker comes first.
            await session.execute(
                upsert_into(PacingBucketRow, self._dialect).values(name=bucket).on_conflict_do_nothing()
            )
            await session.scalar(locked)

    async def renew(self, tokens: Sequence[str], holder: str, until: datetime) -> set[str]:
        if not tokens:
            return set()
        async with self._sessions.begin() as session:
            renewed = await session.scalars(
                update(PacingTokenRow)
                .where(PacingTokenRow.id.in_(tokens), PacingTokenRow.holder == holder)
                .values(free_at=until)
                .returning(PacingTokenRow.id)
                .execution_options(synchronize_session=False)
            )
            return set(renewed.all())

    async def withdraw(self, bucket: str, holder: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                delete(PacingTokenRow)
                .where(PacingTokenRow.bucket == wanted(bucket), PacingTokenRow.holder == holder)
                .execution_options(synchronize_session=False)
            )

    async def others_wait(self, bucket: str, holder: str, now: datetime) -> bool:
        async with self._sessions() as session:
            found = await session.scalar(
                select(PacingTokenRow.id)
                .where(
                    PacingTokenRow.bucket == wanted(bucket),
                    PacingTokenRow.holder != holder,
                    PacingTokenRow.free_at > now,
                )
                .limit(1)
            )
        return found is not None

    async def give_back(self, token: str, holder: str, free_at: datetime) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(PacingTokenRow)
                .where(PacingTokenRow.id == token, PacingTokenRow.holder == holder)
                .values(free_at=free_at)
                .execution_options(synchronize_session=False)
            )

    async def give_back_many(self, free_at: Mapping[str, datetime], holder: str) -> None:
        if not free_at:
            return
        tokens = _TOKENS
        returning = (
            update(tokens)
            .where(tokens.c.id == bindparam("token"), tokens.c.holder == holder)
            .values(free_at=bindparam("free"))
        )
        async with self._sessions.begin() as session:
            await session.execute(returning, [{"token": t, "free": at} for t, at in free_at.items()])


_TOKENS: Table = PacingTokenRow.__table__  # type: ignore[assignment]  # Core: one statement for many rows


def _before(waiter: PacingTokenRow, mine: PacingTokenRow | None) -> bool:
    """Whether `waiter` waits longer than the taker whose row is `mine` (None: it starts now)."""
    if mine is None:
        return True
    return (waiter.created_at, waiter.id) < (mine.created_at, mine.id)
