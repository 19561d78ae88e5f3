"""The fallback transport in tests: a worker and its fallback service on one fake clock.

`clocked_fallback(container, clock, policy)` builds, on the container's database and relay adapters,
the `FallbackService` and the `DeliveryWorker` that asks it, both on `clock`, with notices raised
by a notification service on the same clock. `fallback_changes(primary, fallback)` are the settings
of a primary relay and a fallback relay (both plain sinks, or bare ports).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from alertmail.adapters.mail_api_transport import MailApiTransport, gmail_request, graph_request
from alertmail.adapters.native_transport import NativeTransport
from alertmail.adapters.oauth_client import HttpOAuthClient
from alertmail.adapters.secret_box import FernetSecretBox
from alertmail.adapters.smtp_transport import SmtpTransport
from alertmail.adapters.storage.pacing_repository import SqlPacingRepository
from alertmail.adapters.storage.repositories import SqlSettingsRepository
from alertmail.adapters.storage.transport_state_repository import SqlTransportStateRepository
from alertmail.composition import Container, dead_letter_notice
from alertmail.domain.outbox import RetryPolicy
from alertmail.domain.ports import MailTransport
from alertmail.services.app_only_tokens import AppOnlyTokens
from alertmail.services.delivery import DeliveryWorker
from alertmail.services.fallback_transport import FallbackService
from tests.support.delivery import FakeClock, clocked_notifications, outbox_of, relay_changes
from tests.support.smtp import HOST, SmtpSink

__all__ = ["FALLBACK_STARTED", "PRIMARY_RESTORED", "Clocked", "clocked_fallback", "fallback_changes"]

FALLBACK_STARTED = "Mail is going through the fallback transport"
PRIMARY_RESTORED = "The primary mail transport works again"
PROBE_EVERY = timedelta(minutes=2)


@dataclass
class Clocked:
    worker: DeliveryWorker
    fallback: FallbackService

    async def close(self) -> None:
        await self.worker.close()


def fallback_changes(primary: SmtpSink | int, fallback: SmtpSink | int, **changes: Any) -> dict[str, Any]:
    port = fallback if isinstance(fallback, int) else fallback.port
    return relay_changes(
        primary,
        fallback_email_type="smtp",
        fallback_hostname=HOST,
        fallback_port=port,
        fallback_encryption="none",
        **changes,
    )


def clocked_fallback(
    container: Container, clock: FakeClock, policy: RetryPolicy, *, sendmail: str | None = None
) -> Clocked:
    """`sendmail`: the program a native transport runs (default: the container's configuration's)."""
    database = container.database
    box = FernetSecretBox.from_key_file(container.config.resolved_secret_key_file)
    settings = SqlSettingsRepository(database.sessionmaker, box)
    smtp = SmtpTransport(tokens=container.oauth_tokens)
    native = NativeTransport(sendmail or container.config.sendmail_path)
    graph = MailApiTransport("graph", graph_request, tokens=container.oauth_tokens)
    gmail = MailApiTransport("gmail_api", gmail_request, tokens=container.oauth_tokens)
    notifications = clocked_notifications(container, clock)
    fallback = FallbackService(
        SqlTransportStateRepository(database.sessionmaker),
        settings,
        notifications,
        container.sending,
        {"smtp": smtp, "native": native, "graph": graph, "gmail_api": gmail},
        probe_every=PROBE_EVERY,
        clock=clock,
    )
    transports: dict[str, MailTransport] = {
        "smtp": smtp,
        "native": native,
        "graph": graph,
        "gmail_api": gmail,
    }
    worker = DeliveryWorker(
        outbox_of(container),
        settings,
        transports,
        container.sending,
        pacing=SqlPacingRepository(container.database.sessionmaker, dialect=container.database.dialect),
        policy=policy,
        node="test-node",
        on_dead_letter=lambda message, reason: dead_letter_notice(notifications, message, reason),
        fallback=fallback,
        fallback_transports=transports
        | {"graph": MailApiTransport("graph", graph_request, tokens=AppOnlyTokens(HttpOAuthClient()))},
        clock=clock,
        random_fraction=lambda: 0.0,
    )
    return Clocked(worker, fallback)
