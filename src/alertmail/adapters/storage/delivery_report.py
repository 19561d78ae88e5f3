"""The outbox as the Delivery page reads it: keyset pages on (status, created_at), hourly outcomes.

Pages and the chart's sent and retried series walk the `ix_outbox_created_at_status_attempts` /
`ix_outbox_status_created_at` indexes (migration 0014); the dead series and the health strip's
"dead in the last 24 h" walk `ix_outbox_dead_at` (0018). A page and the 7-day chart stay fast with a
large outbox.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from alertmail.adapters.storage.keyset import older_than
from alertmail.adapters.storage.models import OutboxRow
from alertmail.adapters.storage.outbox_repository import outbox_message
from alertmail.domain.delivery_report import HourOutcomes, PageCursor
from alertmail.domain.outbox import OutboxMessage, OutboxStatus

__all__ = ["SqlDeliveryReport"]

Sessions = async_sessionmaker[AsyncSession]


class SqlDeliveryReport:
    def __init__(self, sessions: Sessions, *, dialect: str) -> None:
        self._sessions = sessions
        self._dialect = dialect

    async def page(
        self,
        *,
        status: OutboxStatus | None,
        before: PageCursor | None,
        limit: int,
        created: tuple[datetime | None, datetime | None] = (None, None),
    ) -> builtins.list[OutboxMessage]:
        query = select(OutboxRow).order_by(OutboxRow.created_at.desc(), OutboxRow.id.desc()).limit(limit)
        if status is not None:
            query = query.where(OutboxRow.status == status)
        if before is not None:
            query = query.where(older_than(OutboxRow.created_at, OutboxRow.id, before))
        if created[0] is not None:
            query = query.where(OutboxRow.created_at >= created[0])
        if created[1] is not None:
            query = query.where(OutboxRow.created_at < created[1])
        async with self._sessions() as session:
            return [outbox_message(row) for row in await session.scalars(query)]

    async def count_dead_since(self, since: datetime) -> int:
        # dead_at is set exactly while a message is dead (outbox_repository.py): no status test needed.
        query = select(func.count()).select_from(OutboxRow).where(OutboxRow.dead_at >= since)
        async with self._sessions() as session:
            return int(await session.scalar(query) or 0)

    async def hourly(self, since: datetime) -> builtins.list[HourOutcomes]:
        return await self._outcomes(since, _HOUR)

    async def daily(self, since: datetime) -> builtins.list[HourOutcomes]:
        return await self._outcomes(since, _DAY)

    async def _outcomes(self, since: datetime, unit: _Unit) -> builtins.list[HourOutcomes]:
        queued = self._bucket(OutboxRow.created_at, unit).label("bucket")
        by_queued = (
            select(
                queued,
                func.sum(case((OutboxRow.status == "sent", 1), else_=0)),
                func.sum(case((OutboxRow.attempts > 1, 1), else_=0)),
            )
            .where(OutboxRow.created_at >= since)
            .group_by(queued)
        )
        died = self._bucket(OutboxRow.dead_at, unit).label("bucket")
        by_death = select(died, func.count()).where(OutboxRow.dead_at >= since).group_by(died)
        async with self._sessions() as session:
            counted = {
                text: (int(sent), int(retried)) for text, sent, retried in await session.execute(by_queued)
            }
            dead = {text: int(count) for text, count in await session.execute(by_death)}
        return [
            HourOutcomes(unit.parse(text), *counted.get(text, (0, 0)), dead=dead.get(text, 0))
            for text in sorted(counted.keys() | dead.keys())
        ]

    def _bucket(self, column: InstrumentedAttribute[Any], unit: _Unit) -> ColumnElement[str]:
        if self._dialect == "postgresql":
            return func.to_char(func.timezone("UTC", column), unit.postgres_format)
        # SQLite keeps UTC as text "YYYY-MM-DD HH:MM:SS...": the hour or day is a prefix of it.
        return func.substr(column, 1, unit.sqlite_prefix)


@dataclass(frozen=True)
class _Unit:
    postgres_format: str
    sqlite_prefix: int
    python_format: str

    def parse(self, text: str) -> datetime:
        return datetime.strptime(text, self.python_format).replace(tzinfo=UTC)


_HOUR = _Unit("YYYY-MM-DD HH24", 13, "%Y-%m-%d %H")
_DAY = _Unit("YYYY-MM-DD", 10, "%Y-%m-%d")
