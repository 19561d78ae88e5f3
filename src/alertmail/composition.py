"""The composition root: builds adapters and services from an `AppConfig`, and closes them.

Nothing here runs at import time; `open_container(config)` is the only way in.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from alertmail.adapters.event_renderer import JinjaEventRenderer
from alertmail.adapters.event_types_file import load_event_types
from alertmail.adapters.mail_api_transport import MailApiTransport, gmail_request, graph_request
from alertmail.adapters.mail_log_file import RotatingMailLogFile
from alertmail.adapters.metrics import PrometheusMetrics
from alertmail.adapters.native_transport import NativeTransport
from alertmail.adapters.oauth_client import HttpOAuthClient
from alertmail.adapters.secret_box import FernetSecretBox
from alertmail.adapters.smtp_transport import SmtpTransport
from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.delivery_report import SqlDeliveryReport
from alertmail.adapters.storage.device_sign_in_repository import SqlDeviceSignInRepository
from alertmail.adapters.storage.event_repository import SqlEventRepository
from alertmail.adapters.storage.generation_repository import SqlGenerationRepository
from alertmail.adapters.storage.oauth_repositories import (
    SqlOAuthAuthorizationRepository,
    SqlOAuthTokenRepository,
)
from alertmail.adapters.storage.outbox_repository import SqlOutboxRepository
from alertmail.adapters.storage.pacing_repository import SqlPacingRepository
from alertmail.adapters.storage.repositories import (
    SqlAdministratorRepository,
    SqlApiTokenRepository,
    SqlMailLogRepository,
    SqlSettingsRepository,
)
from alertmail.adapters.storage.retention_repository import SqlRetentionRepository
from alertmail.adapters.storage.transport_state_repository import SqlTransportStateRepository
from alertmail.adapters.storage.web_session_repository import SqlWebSessionRepository
from alertmail.cluster_composition import cluster_service
from alertmail.config import AppConfig
from alertmail.domain.event_catalog import EventCatalog
from alertmail.domain.outbox import OutboxMessage, RetryPolicy
from alertmail.services.administrators import AdministratorService
from alertmail.services.app_only_tokens import AppOnlyTokens
from alertmail.services.cluster import ClusterService
from alertmail.services.credential_cache import TokenCache
from alertmail.services.delivery import DeliveryOptions, DeliveryWorker
from alertmail.services.delivery_overview import DeliveryOverviewService
from alertmail.services.event_recipients import EventRecipients
from alertmail.services.fallback_transport import FallbackService
from alertmail.services.housekeeping import Housekeeping, RetentionOptions
from alertmail.services.local_submission import LocalSubmissionService
from alertmail.services.mail_logs import MailLogService
from alertmail.services.notifications import CoalescingOptions, NotificationService
from alertmail.services.oauth_device_signin import DeviceSignInService
from alertmail.services.oauth_keepalive import OAuthKeepAlive
from alertmail.services.oauth_signin import OAuthSignInService
from alertmail.services.oauth_tokens import OAuthTokenService
from alertmail.services.oauth_verification import TokenVerificationService
from alertmail.services.outbox_service import OutboxService
from alertmail.services.scheduler import Scheduler
from alertmail.services.sending import MailSendingService
from alertmail.services.settings_service import SettingsService
from alertmail.services.test_email import TestEmailService
from alertmail.services.web_sessions import WebSessionService
from alertmail.submission_composition import local_submission_service, open_database, retry_policy

__all__ = ["Container", "dead_letter_notice", "open_container"]


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
    oauth_verification: TokenVerificationService
    oauth_device_sign_in: DeviceSignInService
    oauth_keepalive: OAuthKeepAlive
    local_submission: LocalSubmissionService
    notifications: NotificationService
    outbox: OutboxService
    delivery: DeliveryOverviewService
    delivery_worker: DeliveryWorker
    fallback: FallbackService
    scheduler: Scheduler
    metrics: PrometheusMetrics
    web_sessions: WebSessionService
    cluster: ClusterService
    housekeeping: Housekeeping


@asynccontextmanager
async def open_container(config: AppConfig) -> AsyncIterator[Container]:
    """Open the database (migrating it to the current schema), build the services, close on exit."""
    async with open_database(config) as database:
        log_file = RotatingMailLogFile(config.mail_log_path, config.log_max_bytes, config.log_backups)
        container: Container | None = None
        try:
            container = _build(config, database, log_file)
            yield container
        finally:
            if container is not None:
                await container.delivery_worker.close()  # its open connections to the relay or API
            log_file.close()


# Each primary transport sends, and can be probed while the fallback is in use.
_Transport = SmtpTransport | NativeTransport | MailApiTransport


@dataclass(frozen=True)
class _Core:
    """What most services share: the storage, the secrets' key, the OAuth2 tokens, the transports."""

    config: AppConfig
    database: Database
    box: FernetSecretBox
    node: str
    settings: SqlSettingsRepository
    administrators: SqlAdministratorRepository
    mail_log: SqlMailLogRepository
    outbox: SqlOutboxRepository
    policy: RetryPolicy
    metrics: PrometheusMetrics
    oauth_client: HttpOAuthClient
    token_repository: SqlOAuthTokenRepository
    oauth_tokens: OAuthTokenService
    transports: Mapping[str, _Transport]
    sending: MailSendingService


def _build(config: AppConfig, database: Database, log_file: RotatingMailLogFile) -> Container:
    core = _core(config, database, log_file)
    # Queued e-mail wakes the worker, which is built last: it needs the fallback, which needs these.
    notifications = _notifications(core, on_queued=lambda: worker.wake())
    fallback = FallbackService(
        SqlTransportStateRepository(database.sessionmaker),
        core.settings,
        notifications,
        core.sending,
        core.transports,  # every primary can be probed
        probe_every=timedelta(seconds=config.fallback_probe_seconds),
    )
    worker = _delivery_worker(core, notifications, fallback)
    return _container(core, notifications, fallback, worker)


def _core(config: AppConfig, database: Database, log_file: RotatingMailLogFile) -> _Core:
    box = FernetSecretBox.from_key_file(config.resolved_secret_key_file)
    sessions = database.sessionmaker
    node = config.node_name or socket.gethostname()
    mail_log = SqlMailLogRepository(sessions)
    metrics = PrometheusMetrics()
    oauth_client = HttpOAuthClient()
    token_repository = SqlOAuthTokenRepository(sessions, box, dialect=database.dialect)
    oauth_tokens = OAuthTokenService(
        token_repository,
        oauth_client,
        refresh_margin=timedelta(seconds=config.oauth_refresh_margin),
        on_refresh=metrics.token_refreshed,
    )
    transports: dict[str, _Transport] = {
        "smtp": SmtpTransport(tokens=oauth_tokens),
        "native": NativeTransport(config.sendmail_path),
        "graph": MailApiTransport("graph", graph_request, tokens=oauth_tokens),
        "gmail_api": MailApiTransport("gmail_api", gmail_request, tokens=oauth_tokens),
    }
    return _Core(
        config,
        database,
        box,
        node,
        settings=SqlSettingsRepository(sessions, box),
        administrators=SqlAdministratorRepository(sessions),
        mail_log=mail_log,
        outbox=SqlOutboxRepository(sessions, dialect=database.dialect),
        policy=retry_policy(config),
        metrics=metrics,
        oauth_client=oauth_client,
        token_repository=token_repository,
        oauth_tokens=oauth_tokens,
        transports=transports,
        sending=MailSendingService(transports, mail_log, log_file, node=node),
    )


def _notifications(core: _Core, *, on_queued: Callable[[], None]) -> NotificationService:
    config, database = core.config, core.database
    catalog = EventCatalog.default()
    for own in load_event_types(config.data_dir / "event-types.json"):
        catalog.register(own)
    return NotificationService(
        catalog,
        JinjaEventRenderer(
            appliance=core.node,
            timezone=config.appliance_timezone,
            public_url=config.public_url,
            override_dir=config.data_dir / "templates",
        ),
        SqlEventRepository(database.sessionmaker, dialect=database.dialect, writer=database.writer),
        core.settings,
        policy=core.policy,
        node=core.node,
        coalescing=CoalescingOptions(
            window=timedelta(minutes=config.coalesce_window_minutes), max_mailed_keys=config.coalesce_max_keys
        ),
        on_queued=on_queued,
        on_received=core.metrics.event_received,
        mail_log=core.sending.record,
        recipients=EventRecipients(core.administrators, core.sending),
    )


def _delivery_worker(
    core: _Core, notifications: NotificationService, fallback: FallbackService
) -> DeliveryWorker:
    config, token_repository = core.config, core.token_repository

    async def sign_in_marker() -> datetime | None:
        tokens = await token_repository.load()
        return None if tokens is None else tokens.obtained_at

    return DeliveryWorker(
        core.outbox,
        core.settings,
        core.transports,
        core.sending,
        pacing=SqlPacingRepository(core.database.sessionmaker, dialect=core.database.dialect),
        policy=core.policy,
        node=core.node,
        options=DeliveryOptions(
            batch_size=config.delivery_batch_size,
            poll_interval=config.delivery_poll_seconds,
            lease=timedelta(seconds=config.delivery_lease_seconds),
        ),
        observer=core.metrics,
        authorization_marker=sign_in_marker,
        on_dead_letter=lambda message, reason: dead_letter_notice(notifications, message, reason),
        fallback=fallback,
        fallback_transports={
            **core.transports,
            "graph": MailApiTransport("graph", graph_request, tokens=AppOnlyTokens(core.oauth_client)),
        },
    )


def _container(
    core: _Core, notifications: NotificationService, fallback: FallbackService, worker: DeliveryWorker
) -> Container:
    config, database, sessions = core.config, core.database, core.database.sessionmaker
    test_email = TestEmailService(core.settings, core.administrators, core.sending)
    admin_service = AdministratorService(
        core.administrators,
        SqlApiTokenRepository(sessions),
        token_cache=TokenCache(SqlGenerationRepository(sessions)),
    )
    housekeeping = _housekeeping(config, database)
    oauth = _oauth(core, test_email)
    return Container(
        config=config,
        database=database,
        settings=SettingsService(core.settings, test_email),
        test_email=test_email,
        mail_logs=MailLogService(core.mail_log),
        administrators=admin_service,
        sending=core.sending,
        oauth_tokens=core.oauth_tokens,
        oauth_sign_in=oauth.sign_in,
        oauth_verification=oauth.verification,
        oauth_device_sign_in=oauth.device_sign_in,
        oauth_keepalive=oauth.keepalive,
        local_submission=local_submission_service(config, core.outbox, core.settings, worker.wake),
        notifications=notifications,
        outbox=OutboxService(core.outbox, on_queued=worker.wake),
        delivery=DeliveryOverviewService(SqlDeliveryReport(sessions, dialect=database.dialect), core.outbox),
        delivery_worker=worker,
        fallback=fallback,
        scheduler=_scheduler(core, notifications, oauth.keepalive, housekeeping),
        metrics=core.metrics,
        web_sessions=WebSessionService(SqlWebSessionRepository(sessions), admin_service),
        cluster=cluster_service(config, database, notifications, core.metrics, core.node),
        housekeeping=housekeeping,
    )


class _OAuth(NamedTuple):
    sign_in: OAuthSignInService
    verification: TokenVerificationService
    device_sign_in: DeviceSignInService
    keepalive: OAuthKeepAlive


def _oauth(core: _Core, test_email: TestEmailService) -> _OAuth:
    sessions, client = core.database.sessionmaker, core.oauth_client
    sign_in = OAuthSignInService(
        core.settings,
        SqlOAuthAuthorizationRepository(sessions, core.box),
        client,
        core.oauth_tokens,
        core.sending,
        public_url=core.config.public_url,
    )
    device_sign_ins = SqlDeviceSignInRepository(sessions, core.box, dialect=core.database.dialect)
    return _OAuth(
        sign_in,
        TokenVerificationService(core.settings, core.oauth_tokens, client, core.sending),
        DeviceSignInService(device_sign_ins, client, sign_in),
        OAuthKeepAlive(
            core.settings,
            core.oauth_tokens,
            core.sending,
            interval=timedelta(hours=core.config.oauth_keepalive_hours),
        ),
    )


def _housekeeping(config: AppConfig, database: Database) -> Housekeeping:
    return Housekeeping(
        SqlRetentionRepository(database.sessionmaker),
        RetentionOptions(
            retention=timedelta(days=config.retention_days),
            log_retention=timedelta(days=config.log_retention_days),
            stuck_after=timedelta(minutes=config.stuck_after_minutes),
        ),
    )


def _scheduler(
    core: _Core, notifications: NotificationService, keepalive: OAuthKeepAlive, housekeeping: Housekeeping
) -> Scheduler:
    return Scheduler(
        core.settings,
        notifications,
        core.outbox,
        keepalive,
        core.oauth_tokens,
        timezone=core.config.appliance_timezone,
        node=core.node,
        housekeeping=housekeeping,
    )


async def dead_letter_notice(notifications: NotificationService, message: OutboxMessage, reason: str) -> None:
    """Raise `delivery.dead_lettered` for a message given up: why, and who got it and who did not."""
    details = {
        "message_id": message.message_id,
        "subject": message.subject,
        "reason": reason,
        "delivered_to": ", ".join(message.delivered_recipients) or "nobody",
        "not_delivered_to": ", ".join(message.undelivered_recipients),
    }
    await notifications.raise_event("delivery.dead_lettered", details, source="delivery")
