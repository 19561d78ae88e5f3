"""The composition root: builds adapters and services from an `AppConfig`, and closes them.

Nothing here runs at import time; `open_container(config)` is the only way in.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from alertmail.adapters.mail_log_file import RotatingMailLogFile
from alertmail.adapters.native_transport import NativeTransport
from alertmail.adapters.secret_box import FernetSecretBox
from alertmail.adapters.smtp_transport import SmtpTransport
from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.repositories import (
    SqlAdministratorRepository,
    SqlApiTokenRepository,
    SqlMailLogRepository,
    SqlSettingsRepository,
)
from alertmail.config import AppConfig
from alertmail.services.administrators import AdministratorService
from alertmail.services.mail_logs import MailLogService
from alertmail.services.sending import MailSendingService
from alertmail.services.settings_service import SettingsService
from alertmail.services.test_email import TestEmailService

__all__ = ["Container", "open_container"]


@dataclass(frozen=True)
class Container:
    """Everything an interface may call."""

    config: AppConfig
    database: Database
    settings: SettingsService
    test_email: TestEmailService
    mail_logs: MailLogService
    administrators: AdministratorService
    sending: MailSendingService


@asynccontextmanager
async def open_container(config: AppConfig) -> AsyncIterator[Container]:
    """Open the database (migrating it to the current schema), build the services, close on exit."""
    # Private by default: the database holds administrators' hashes and the mail logs.
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    database = Database.from_url(config.resolved_database_url)
    log_file = RotatingMailLogFile(config.mail_log_path, config.log_max_bytes, config.log_backups)
    try:
        await database.upgrade()
        yield _build(config, database, log_file)
    finally:
        log_file.close()
        await database.dispose()


def _build(config: AppConfig, database: Database, log_file: RotatingMailLogFile) -> Container:
    box = FernetSecretBox.from_key_file(config.resolved_secret_key_file)
    sessions = database.sessionmaker
    settings_repository = SqlSettingsRepository(sessions, box)
    administrators = SqlAdministratorRepository(sessions)
    mail_log = SqlMailLogRepository(sessions)
    sending = MailSendingService(
        {"smtp": SmtpTransport(), "native": NativeTransport(config.sendmail_path)},
        mail_log,
        log_file,
        node=config.node_name or socket.gethostname(),
    )
    test_email = TestEmailService(settings_repository, administrators, sending)
    return Container(
        config=config,
        database=database,
        settings=SettingsService(settings_repository, test_email),
        test_email=test_email,
        mail_logs=MailLogService(mail_log),
        administrators=AdministratorService(administrators, SqlApiTokenRepository(sessions)),
        sending=sending,
    )
