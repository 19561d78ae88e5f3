"""The composition root: builds adapters and services from an `AppConfig`, and closes them.

Nothing here runs at import time; `open_container(config)` is the only way in.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import alertmail
from alertmail.adapters.event_renderer import JinjaEventRenderer
from alertmail.adapters.event_types_file import load_event_types
from alertmail.adapters.mail_api_transport import MailApiTransport, gmail_request, graph_request
from alertmail.adapters.mail_log_file import RotatingMailLogFile
from alertmail.adapters.metrics import PrometheusMetrics
from alertmail.adapters.native_transport import NativeTransport
from alertmail.adapters.network_interfaces import HostInterfaces
from alertmail.adapters.oauth_client import HttpOAuthClient
from alertmail.adapters.probes import NetworkProber
from alertmail.adapters.secret_box import FernetSecretBox
from alertmail.adapters.smtp_transport import SmtpTransport
from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.delivery_report import SqlDeliveryReport
from alertmail.adapters.storage.device_sign_in_repository import SqlDeviceSignInRepository
from alertmail.adapters.storage.event_repository import SqlEventRepository
from alertmail.adapters.storage.generation_repository import SqlGenerationRepository
from alertmail.adapters.storage.node_check_repository import SqlNodeCheckRepository
from alertmail.adapters.storage.node_repository import SqlNodeRepository
from alertmail.adapters.storage.oauth_repositories import (
    SqlOAuthAuthorizationRepository,
    SqlOAuthTokenRepository,
)
from alertmail.adapters.storage.outbox_repository import SqlOutboxRepository
from alertmail.adapters.storage.pacing_repository import SqlPacingRepository
from alertmail.adapters.storage.primary_lock import PostgresPrimaryLock, SingleNodeLock
from alertmail.adapters.storage.repositories import (
    SqlAdministratorRepository,
    SqlApiTokenRepository,
    SqlMailLogRepository,
    SqlSettingsRepository,
)
from alertmail.adapters.storage.retention_repository import SqlRetentionRepository
from alertmail.adapters.storage.transport_state_repository import SqlTransportStateRepository
from alertmail.adapters.storage.web_session_repository import SqlWebSessionRepository
from alertmail.config import AppConfig
from alertmail.domain.event_catalog import EventCatalog
from alertmail.domain.outbox import OutboxMessage
from alertmail.domain.ports import MailTransport, PrimaryLock
from alertmail.services.administrators import AdministratorService
from alertmail.services.app_only_tokens import AppOnlyTokens
from alertmail.services.clock import utc_now
from alertmail.services.cluster import ClusterOptions, ClusterService
from alertmail.services.cluster_checks import CheckOptions, FailoverChecks, OncePerIncident
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


def _build(config: AppConfig, database: Database, log_file: RotatingMailLogFile) -> Container:
    box = FernetSecretBox.from_key_file(config.resolved_secret_key_file)
    sessions = database.sessionmaker
    node = config.node_name or socket.gethostname()
    settings_repository = SqlSettingsRepository(sessions, box)
    administrators = SqlAdministratorRepository(sessions)
    mail_log = SqlMailLogRepository(sessions)
    outbox = SqlOutboxRepository(sessions, dialect=database.dialect)
    policy = retry_policy(config)
    metrics = PrometheusMetrics()
    oauth_client = HttpOAuthClient()
    token_repository = SqlOAuthTokenRepository(sessions, box, dialect=database.dialect)
    oauth_tokens = OAuthTokenService(
        token_repository,
        oauth_client,
        refresh_margin=timedelta(seconds=config.oauth_refresh_margin),
        on_refresh=metrics.token_refreshed,
    )
    smtp, native = SmtpTransport(tokens=oauth_tokens), NativeTransport(config.sendmail_path)
    graph = MailApiTransport("graph", graph_request, tokens=oauth_tokens)
    gmail = MailApiTransport("gmail_api", gmail_request, tokens=oauth_tokens)
    transports: dict[str, MailTransport] = {
        "smtp": smtp,
        "native": native,
        "graph": graph,
        "gmail_api": gmail,
    }
    sending = MailSendingService(transports, mail_log, log_file, node=node)
    test_email = TestEmailService(settings_repository, administrators, sending)
    keepalive = OAuthKeepAlive(
        settings_repository, oauth_tokens, sending, interval=timedelta(hours=config.oauth_keepalive_hours)
    )

    async def sign_in_marker() -> datetime | None:
        tokens = await token_repository.load()
        return None if tokens is None else tokens.obtained_at

    catalog = EventCatalog.default()
    for own in load_event_types(config.data_dir / "event-types.json"):
        catalog.register(own)
    notifications = NotificationService(
        catalog,
        JinjaEventRenderer(
            appliance=node,
            timezone=config.appliance_timezone,
            public_url=config.public_url,
            override_dir=config.data_dir / "templates",
        ),
        SqlEventRepository(sessions, dialect=database.dialect, writer=database.writer),
        settings_repository,
        policy=policy,
        node=node,
        coalescing=CoalescingOptions(
            window=timedelta(minutes=config.coalesce_window_minutes), max_mailed_keys=config.coalesce_max_keys
        ),
        on_queued=lambda: worker.wake(),  # the worker is built next: it needs the fallback
        on_received=metrics.event_received,
        mail_log=sending.record,
        recipients=EventRecipients(administrators, sending),
    )
    fallback = FallbackService(
        SqlTransportStateRepository(sessions),
        settings_repository,
        notifications,
        sending,
        {"smtp": smtp, "native": native, "graph": graph, "gmail_api": gmail},  # every primary can be probed
        probe_every=timedelta(seconds=config.fallback_probe_seconds),
    )
    worker = DeliveryWorker(
        outbox,
        settings_repository,
        transports,
        sending,
        pacing=SqlPacingRepository(sessions, dialect=database.dialect),
        policy=policy,
        node=node,
        options=DeliveryOptions(
            batch_size=config.delivery_batch_size,
            poll_interval=config.delivery_poll_seconds,
            lease=timedelta(seconds=config.delivery_lease_seconds),
        ),
        observer=metrics,
        authorization_marker=sign_in_marker,
        on_dead_letter=lambda message, reason: dead_letter_notice(notifications, message, reason),
        fallback=fallback,
        fallback_transports={
            **transports,
            "graph": MailApiTransport("graph", graph_request, tokens=AppOnlyTokens(oauth_client)),
        },
    )
    admin_service = AdministratorService(
        administrators,
        SqlApiTokenRepository(sessions),
        token_cache=TokenCache(SqlGenerationRepository(sessions)),
    )
    housekeeping = Housekeeping(
        SqlRetentionRepository(sessions),
        RetentionOptions(
            retention=timedelta(days=config.retention_days),
            log_retention=timedelta(days=config.log_retention_days),
            stuck_after=timedelta(minutes=config.stuck_after_minutes),
        ),
    )
    oauth_sign_in = OAuthSignInService(
        settings_repository,
        SqlOAuthAuthorizationRepository(sessions, box),
        oauth_client,
        oauth_tokens,
        sending,
        public_url=config.public_url,
    )
    device_sign_ins = SqlDeviceSignInRepository(sessions, box, dialect=database.dialect)
    return Container(
        config=config,
        database=database,
        settings=SettingsService(settings_repository, test_email),
        test_email=test_email,
        mail_logs=MailLogService(mail_log),
        administrators=admin_service,
        sending=sending,
        oauth_tokens=oauth_tokens,
        oauth_sign_in=oauth_sign_in,
        oauth_verification=TokenVerificationService(settings_repository, oauth_tokens, oauth_client, sending),
        oauth_device_sign_in=DeviceSignInService(device_sign_ins, oauth_client, oauth_sign_in),
        oauth_keepalive=keepalive,
        local_submission=local_submission_service(config, outbox, settings_repository, worker.wake),
        notifications=notifications,
        outbox=OutboxService(outbox, on_queued=worker.wake),
        delivery=DeliveryOverviewService(SqlDeliveryReport(sessions, dialect=database.dialect), outbox),
        delivery_worker=worker,
        fallback=fallback,
        scheduler=Scheduler(
            settings_repository,
            notifications,
            outbox,
            keepalive,
            oauth_tokens,
            timezone=config.appliance_timezone,
            node=node,
            housekeeping=housekeeping,
        ),
        metrics=metrics,
        web_sessions=WebSessionService(SqlWebSessionRepository(sessions), admin_service),
        cluster=_cluster(config, database, notifications, metrics, node),
        housekeeping=housekeeping,
    )


def _cluster(
    config: AppConfig,
    database: Database,
    notifications: NotificationService,
    metrics: PrometheusMetrics,
    node: str,
) -> ClusterService:
    """The node's place in the cluster: on PostgreSQL the advisory lock; on SQLite always primary."""
    lock: PrimaryLock = (
        PostgresPrimaryLock(config.resolved_database_url, database.engine)
        if database.dialect == "postgresql"
        else SingleNodeLock()
    )
    options = ClusterOptions(
        node_id=node,
        hostname=config.node_hostname or socket.gethostname(),
        advertised_url=config.advertised_url or config.public_url,
        version=config.version_override or alertmail.__version__,
        role=config.node_role,
        heartbeat=config.heartbeat_seconds,
        grace=config.failover_grace_seconds,
        automatic_failover=config.automatic_failover,
        exclusive_name=database.dialect == "postgresql",  # SQLite: one node, its processes share it
    )
    sessions = database.sessionmaker
    raise_once = OncePerIncident(notifications, node, utc_now)
    checks = FailoverChecks(
        SqlNodeCheckRepository(sessions),
        NetworkProber(timeout=config.probe_timeout_seconds, verify=config.cluster_ca_file or True),
        HostInterfaces(),
        raise_once,
        CheckOptions(
            interval=config.failover_check_seconds,
            test_addresses=config.test_addresses,
            shared_ip=config.shared_ip,
            data_sync_threshold=timedelta(seconds=config.data_sync_threshold_seconds),
        ),
        observer=metrics,
    )
    return ClusterService(SqlNodeRepository(sessions), lock, raise_once, checks, options, observer=metrics)


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
