"""Cache generations: one cheap read tells a process whether what it caches is still current.

Every change to cached data bumps its generation in the same transaction as the change itself
(`bump_in`), so a process that reads the generation after the change committed sees it.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alertmail.adapters.storage.models import CacheGenerationRow

__all__ = ["CREDENTIALS", "SqlGenerationRepository", "bump_in"]

CREDENTIALS = "credentials"  # API tokens and administrators


async def bump_in(session: AsyncSession, name: str = CREDENTIALS) -> None:
    """Bump `name`'s generation inside the caller's open transaction."""
    await session.execute(
        update(CacheGenerationRow)
        .where(CacheGenerationRow.name == name)
        .values(generation=CacheGenerationRow.generation + 1)
        .execution_options(synchronize_session=False)
    )


class SqlGenerationRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], name: str = CREDENTIALS) -> None:
        self._sessions = sessions
        self._name = name

    async def current(self) -> int:
        async with self._sessions() as session:
            found = await session.scalar(
                select(CacheGenerationRow.generation).where(CacheGenerationRow.name == self._name)
            )
        return int(found or 0)

    async def bump(self) -> None:
        async with self._sessions.begin() as session:
            await bump_in(session, self._name)
