"""The composition root: builds adapters and services from an `AppConfig`, and closes them.

Nothing here runs at import time; `open_container(config)` is the only way in.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from alertmail.adapters.mail_log_file import RotatingMailLogFile
from alertmail.adapters.native_transport import NativeTransport
from alertmail.adapters.oauth_client import HttpOAuthClient
from alertmail.adapters.secret_box import FernetSecretBox
from alertmail.adapters.smtp_transport import SmtpTransport
from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.oauth_repositories import (
    SqlOAuthAuthorizationRepository,
    SqlOAuthTokenRepository,
)
from alertmail.adapters.storage.repositories import (
    SqlAdministratorRepository,
    SqlApiTokenRepository,
    SqlMailLogRepository,
    SqlSettingsRepository,
)
from alertmail.config import AppConfig
from alertmail.services.administrators import AdministratorService
from alertmail.services.mail_logs import MailLogService
from alertmail.services.oauth_keepalive import OAuthKeepAlive
from alertmail.services.oauth_signin import OAuthSignInService
from alertmail.services.oauth_tokens import OAuthTokenService
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
    oauth_tokens: OAuthTokenService
    oauth_sign_in: OAuthSignInService
    oauth_keepalive: OAuthKeepAlive


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
    oauth_client = HttpOAuthClient()
    oauth_tokens = OAuthTokenService(
        SqlOAuthTokenRepository(sessions, box, dialect=database.dialect),
        oauth_client,
        refresh_margin=timedelta(seconds=config.oauth_refresh_margin),
    )
    sending = MailSendingService(
        {"smtp": SmtpTransport(tokens=oauth_tokens), "native": NativeTransport(config.sendmail_path)},
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
        oauth_tokens=oauth_tokens,
        oauth_sign_in=OAuthSignInService(
            settings_repository,
            SqlOAuthAuthorizationRepository(sessions, box),
            oauth_client,
            oauth_tokens,
            sending,
            public_url=config.public_url,
        ),
        oauth_keepalive=OAuthKeepAlive(
            settings_repository,
            oauth_tokens,
            sending,
            interval=timedelta(hours=config.oauth_keepalive_hours),
        ),
    )
