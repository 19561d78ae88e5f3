"""The composition root of `alertmail sendmail`: the outbox and the mail settings, nothing else.

sendmail starts once for every message a cron job or a script hands it, and only queues: it needs
the database, the settings (for the From address) and the outbox. The full container of
composition.py also builds the event catalog and its templates, delivery, OAuth, metrics and the
cluster, and imports every module they need, which costs more than the queueing itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from alertmail.adapters.secret_box import FernetSecretBox
from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.outbox_repository import SqlOutboxRepository
from alertmail.adapters.storage.repositories import SqlSettingsRepository
from alertmail.config import AppConfig
from alertmail.domain.outbox import RetryPolicy
from alertmail.domain.ports import OutboxRepository, SettingsRepository
from alertmail.services.local_submission import LocalSubmissionService

__all__ = ["local_submission_service", "open_database", "open_local_submission", "retry_policy"]


@asynccontextmanager
async def open_database(config: AppConfig) -> AsyncIterator[Database]:
    """The database of `config`, migrated to the current schema; disposed of on exit."""
    # Private by default: the database holds administrators' hashes and the mail logs.
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    database = Database.from_url(config.resolved_database_url)
    try:
        await database.upgrade()
        yield database
    finally:
        await database.dispose()


@asynccontextmanager
async def open_local_submission(config: AppConfig) -> AsyncIterator[LocalSubmissionService]:
    """What `alertmail sendmail` queues through, on its own database connection."""
    async with open_database(config) as database:
        box = FernetSecretBox.from_key_file(config.resolved_secret_key_file)
        yield local_submission_service(
            config,
            SqlOutboxRepository(database.sessionmaker, dialect=database.dialect),
            SqlSettingsRepository(database.sessionmaker, box),
        )


def retry_policy(config: AppConfig) -> RetryPolicy:
    return RetryPolicy(lifetime=timedelta(hours=config.message_lifetime_hours))


def local_submission_service(
    config: AppConfig,
    outbox: OutboxRepository,
    settings: SettingsRepository,
    on_queued: Callable[[], None] | None = None,
) -> LocalSubmissionService:
    return LocalSubmissionService(
        outbox,
        settings,
        policy=retry_policy(config),
        max_bytes=config.local_submission_max_bytes,
        on_queued=on_queued,
    )
