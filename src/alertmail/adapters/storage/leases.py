"""Named leases in the database: one holder at a time across every process that shares it.

For what must happen one at a time where no server-side lock exists: `serve`, `worker` and the CLI
on one SQLite file (an OAuth2 refresh). A lease is taken with one statement (insert, or take over
one that has expired) and given back when done; a holder that dies frees it when it expires, so
`ttl` must outlast what the holder does under it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alertmail.adapters.storage.models import LeaseRow
from alertmail.adapters.storage.upsert import upsert_into

__all__ = ["LeaseTimeoutError", "SqlLeases"]


class LeaseTimeoutError(TimeoutError):
    """The lease stayed with another holder for longer than the caller would wait."""


class SqlLeases:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, dialect: str, poll: float = 0.05
    ) -> None:
        self._sessions = sessions
        self._dialect = dialect
        self._poll = poll

    @asynccontextmanager
    async def held(self, name: str, *, ttl: timedelta, wait: timedelta) -> AsyncIterator[None]:
        """Hold lease `name` for the block, waiting up to `wait` for the holder before to let go."""
        holder = uuid.uuid4().hex
        deadline = asyncio.get_running_loop().time() + wait.total_seconds()
        while not await self.try_take(name, holder, ttl=ttl):
            if asyncio.get_running_loop().time() >= deadline:
                raise LeaseTimeoutError(f"the {name} lease stayed taken for {wait.total_seconds():g} s")
            await asyncio.sleep(self._poll)
        try:
            yield
        finally:
            await self.give_back(name, holder)

    async def try_take(self, name: str, holder: str, *, ttl: timedelta) -> bool:
        now = datetime.now(UTC)
        values = {"holder": holder, "expires_at": now + ttl}
        statement = (
            upsert_into(LeaseRow, self._dialect)
            .values(name=name, **values)
            .on_conflict_do_update(
                index_elements=["name"],
                set_=values,
                where=LeaseRow.expires_at < now,  # only a lease whose holder is gone is taken over
            )
            .returning(LeaseRow.holder)
        )
        async with self._sessions.begin() as session:
            return (await session.execute(statement)).scalar_one_or_none() == holder

    async def give_back(self, name: str, holder: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))
