"""What is old enough to purge, and what has waited too long: the housekeeping's queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alertmail.adapters.storage.models import (
    EventRow,
    EventWindowRow,
    MailServerLogRow,
    OutboxRow,
    SchedulerRunRow,
)

__all__ = ["STUCK_STATUSES", "SqlRetentionRepository"]

STUCK_STATUSES = ("waiting_config", "retry_wait")


class SqlRetentionRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def purge(self, *, records_before: datetime, logs_before: datetime) -> dict[str, int]:
        """Delete sent messages, events, ended windows and past claims before `records_before`, and
        Mail Server Logs before `logs_before`; how many of each. Queued or dead mail is kept."""
        statements = {
            "sent_messages": delete(OutboxRow).where(
                OutboxRow.status == "sent", OutboxRow.sent_at < records_before
            ),
            "events": delete(EventRow).where(EventRow.received_at < records_before),
            "event_windows": delete(EventWindowRow).where(
                EventWindowRow.closes_at < records_before, EventWindowRow.digest_pending.is_(False)
            ),
            "scheduler_runs": delete(SchedulerRunRow).where(SchedulerRunRow.ran_at < records_before),
            "mail_server_logs": delete(MailServerLogRow).where(MailServerLogRow.registered_at < logs_before),
        }
        purged: dict[str, int] = {}
        async with self._sessions.begin() as session:
            for name, statement in statements.items():
                result = await session.execute(statement.execution_options(synchronize_session=False))
                purged[name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
        return purged

    async def stuck(self, *, waiting_since: datetime) -> dict[str, int]:
        """Messages still waiting on configuration or a retry that were queued before `waiting_since`."""
        query = (
            select(OutboxRow.status, func.count())
            .where(OutboxRow.status.in_(STUCK_STATUSES), OutboxRow.created_at < waiting_since)
            .group_by(OutboxRow.status)
        )
        async with self._sessions() as session:
            found = {status: count for status, count in await session.execute(query)}
        return {status: int(found.get(status, 0)) for status in STUCK_STATUSES}
