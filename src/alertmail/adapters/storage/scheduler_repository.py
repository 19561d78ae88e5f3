"""Scheduled runs, one row per job and period: the primary key is what makes "once" hold cluster-wide."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alertmail.adapters.storage.models import SchedulerRunRow

__all__ = ["SqlSchedulerRunRepository"]


class SqlSchedulerRunRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def claim(self, job: str, period: str, *, now: datetime, node: str) -> bool:
        """Record that `job` runs for `period`; False when it already has (here or on another node)."""
        try:
            async with self._sessions.begin() as session:
                await session.execute(
                    insert(SchedulerRunRow).values(job=job, period=period, ran_at=now, node=node)
                )
        except IntegrityError:
            return False
        return True
