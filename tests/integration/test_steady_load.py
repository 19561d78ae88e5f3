"""The database stops growing under steady load (issue #12, item 12): day after day, events are
raised, queued, sent to a real relay through the delivery worker (its pacing tokens included), a
Mail Server Logs entry is written, and the daily purge runs; once the retention periods have
passed, every table's row count stays the same from one day to the next, and on SQLite the file
stops growing (pages freed by the purge are reused).

Days pass on a fake clock; retention is 3 days for messages and events, 6 for Mail Server Logs
(30 and 180 in production: the same purge, shorter periods).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from alertmail.adapters.storage.models import EventRow, MailServerLogRow, OutboxRow, PacingTokenRow
from alertmail.adapters.storage.repositories import SqlMailLogRepository
from alertmail.adapters.storage.retention_repository import SqlRetentionRepository
from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from alertmail.domain.outbox import RetryPolicy
from alertmail.domain.records import MailLogEntry
from alertmail.services.housekeeping import Housekeeping, RetentionOptions
from alertmail.services.notifications import CoalescingOptions
from tests.support.delivery import FakeClock, clocked_notifications, clocked_worker, relay_changes
from tests.support.delivery_checks import drain
from tests.support.smtp import SmtpSink

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DAYS = 30
PER_DAY = 8
RETENTION = RetentionOptions(retention=timedelta(days=3), log_retention=timedelta(days=6))
STEADY_FROM = 8  # the day after the longest retention (logs) has passed, plus its own day
TABLES = {
    "outbox": OutboxRow,
    "events": EventRow,
    "mail_server_logs": MailServerLogRow,
    "pacing": PacingTokenRow,
}


@pytest.fixture
async def container(database_url: str, tmp_path: Path) -> AsyncIterator[Container]:
    config = AppConfig(data_dir=tmp_path / "data", database_url=database_url, node_name="n1")
    async with open_container(config) as opened:
        yield opened


@pytest.mark.timeout(300)
async def test_row_counts_and_file_size_stay_level_once_the_retention_periods_have_passed(
    container: Container, smtp_server: SmtpSink
) -> None:
    changes = relay_changes(smtp_server, admin_contacts=["ops@example.com"], messages_per_minute=1000)
    await container.settings.save(changes, actor="test")
    clock = FakeClock(START)
    events = clocked_notifications(container, clock, coalescing=CoalescingOptions(max_mailed_keys=PER_DAY))
    worker = clocked_worker(container, clock, RetryPolicy())
    housekeeping = Housekeeping(
        SqlRetentionRepository(container.database.sessionmaker), RETENTION, clock=clock
    )
    counts: list[dict[str, int]] = []
    sizes: list[int] = []
    try:
        for day in range(DAYS):
            for number in range(PER_DAY):
                await events.raise_event("test", {"n": number}, dedupe_key=f"{day}-{number}")
                clock.advance(timedelta(minutes=1))
            await drain(worker, container, clock)
            await SqlMailLogRepository(container.database.sessionmaker).add(_log_entry(clock()))
            clock.advance(timedelta(days=1) - PER_DAY * timedelta(minutes=1))
            await housekeeping.purge_daily()
            counts.append(await _row_counts(container))
            sizes.append(await _file_pages(container))
    finally:
        await worker.close()
    assert len(smtp_server.messages) == DAYS * PER_DAY  # every message went through the relay
    steady = counts[STEADY_FROM:]
    print(f"\nsteady load: rows per day {counts}; SQLite pages per day {sizes}")
    assert all(day == steady[0] for day in steady), counts
    assert steady[0]["outbox"] <= PER_DAY * (RETENTION.retention.days + 1), steady[0]
    assert steady[0]["mail_server_logs"] <= RETENTION.log_retention.days + 1, steady[0]
    assert steady[0]["pacing"] <= PER_DAY + 3, steady[0]  # the last messages, 3 connections
    if container.database.dialect == "sqlite":
        # Once the indexes have settled the file keeps its size: the purge's pages are reused.
        assert len(set(sizes[DAYS // 2 :])) == 1, sizes
        assert sizes[-1] <= sizes[STEADY_FROM] * 1.1, sizes


async def _row_counts(container: Container) -> dict[str, int]:
    async with container.database.sessionmaker() as session:
        return {
            name: int(await session.scalar(select(func.count()).select_from(row)) or 0)
            for name, row in TABLES.items()
        }


async def _file_pages(container: Container) -> int:
    """SQLite: the database's pages after a checkpoint (the file's size in pages); 0 elsewhere."""
    if container.database.dialect != "sqlite":
        return 0
    async with container.database.engine.connect() as connection:
        await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return int((await connection.execute(text("PRAGMA page_count"))).scalar_one())


def _log_entry(at: datetime) -> MailLogEntry:
    return MailLogEntry(at, "password", "error", "smtp_auth", False, "refused", "fix it", {})
