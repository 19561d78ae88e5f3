"""The outbox as the Delivery page reads it: keyset pages on (status, created_at), hourly outcomes.

Both queries walk the `ix_outbox_created_at` / `ix_outbox_status_created_at` indexes (migration
0014), so a page and the 7-day chart stay fast with a large outbox.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alertmail.adapters.storage.models import OutboxRow
from alertmail.adapters.storage.outbox_repository import outbox_message
from alertmail.domain.delivery_report import HourOutcomes, MessageCursor
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
        before: MessageCursor | None,
        limit: int,
        created: tuple[datetime | None, datetime | None] = (None, None),
    ) -> builtins.list[OutboxMessage]:
        query = select(OutboxRow).order_by(OutboxRow.created_at.desc(), OutboxRow.id.desc()).limit(limit)
        if status is not None:
            query = query.where(OutboxRow.status == status)
        if before is not None:
            query = query.where(_older_than(before))
        if created[0] is not None:
            query = query.where(OutboxRow.created_at >= created[0])
        if created[1] is not None:
            query = query.where(OutboxRow.created_at < created[1])
        async with self._sessions() as session:
            return [outbox_message(row) for row in await session.scalars(query)]

    async def count_created_since(self, status: OutboxStatus, since: datetime) -> int:
        query = (
            select(func.count())
            .select_from(OutboxRow)
            .where(OutboxRow.status == status, OutboxRow.created_at >= since)
        )
        async with self._sessions() as session:
            return int(await session.scalar(query) or 0)

    async def hourly(self, since: datetime) -> builtins.list[HourOutcomes]:
        return await self._outcomes(since, _HOUR)

    async def daily(self, since: datetime) -> builtins.list[HourOutcomes]:
        return await self._outcomes(since, _DAY)

    async def _outcomes(self, since: datetime, unit: _Unit) -> builtins.list[HourOutcomes]:
        bucket = self._bucket_of_created(unit).label("bucket")
        query = (
            select(
                bucket,
                func.sum(case((OutboxRow.status == "sent", 1), else_=0)),
                func.sum(case((OutboxRow.attempts > 1, 1), else_=0)),
                func.sum(case((OutboxRow.status == "dead", 1), else_=0)),
            )
            .where(OutboxRow.created_at >= since)
            .group_by(bucket)
            .order_by(bucket)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            HourOutcomes(unit.parse(text), int(sent), int(retried), int(dead))
            for text, sent, retried, dead in rows
        ]

    def _bucket_of_created(self, unit: _Unit) -> ColumnElement[str]:
        if self._dialect == "postgresql":
            return func.to_char(func.timezone("UTC", OutboxRow.created_at), unit.postgres_format)
        # SQLite keeps UTC as text "YYYY-MM-DD HH:MM:SS...": the hour or day is a prefix of it.
        return func.substr(OutboxRow.created_at, 1, unit.sqlite_prefix)


@dataclass(frozen=True)
class _Unit:
    postgres_format: str
    sqlite_prefix: int
    python_format: str

    def parse(self, text: str) -> datetime:
        return datetime.strptime(text, self.python_format).replace(tzinfo=UTC)


_HOUR = _Unit("YYYY-MM-DD HH24", 13, "%Y-%m-%d %H")
_DAY = _Unit("YYYY-MM-DD", 10, "%Y-%m-%d")


def _older_than(cursor: MessageCursor) -> ColumnElement[bool]:
    return or_(
        OutboxRow.created_at < cursor.created_at,
        and_(OutboxRow.created_at == cursor.created_at, OutboxRow.id < cursor.id),
    )
