"""Helpers for the delivery tests: a sink that counts what delivery does, a clock, queued messages.

- `DeliverySink`: the `SmtpSink` of tests/support/smtp.py that can also listen on a chosen port
  (a relay coming back where it was refused), slow each message down (`data_delay`), and count
  what delivery tests look at: Message-IDs (duplicates), connections open at once, arrival times.
- `Sinks`: starts `DeliverySink`s and stops them all at the end of a test; the `sinks` fixture
  (a pytest plugin of tests/conftest.py) gives one to any test, with the test CA's certificate.
- `BACKOFF` and `delivery_config`: the retry policy and the app configuration the delivery tests
  share (no jitter, so a `FakeClock` steps exactly to each retry; small batches).
- `FakeClock`: "now" that a test moves by hand, for backoff without waiting.
- `clocked_worker`: a `DeliveryWorker` built from a container's adapters with a clock and a retry
  policy of the test's choosing (the container's own worker uses the wall clock and a 30 s backoff).
- `clocked_notifications`: the container's notification service, on `clock` (windows without waiting).
- `queue_messages`: messages committed to the outbox, as the services queue them.
- `AlertmailProcess`: `alertmail serve` or `alertmail worker` as a real process, to kill or stop.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import ssl
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from aiosmtpd.smtp import SMTP, Envelope, Session

from alertmail.adapters.event_renderer import JinjaEventRenderer
from alertmail.adapters.secret_box import FernetSecretBox
from alertmail.adapters.smtp_transport import SmtpTransport
from alertmail.adapters.storage.event_repository import SqlEventRepository
from alertmail.adapters.storage.outbox_repository import SqlOutboxRepository
from alertmail.adapters.storage.pacing_repository import SqlPacingRepository
from alertmail.adapters.storage.repositories import SqlSettingsRepository
from alertmail.composition import Container, dead_letter_notice
from alertmail.config import AppConfig
from alertmail.domain.events import EventCatalog
from alertmail.domain.outbox import OutboxMessage, RetryPolicy, new_outbox_message
from alertmail.domain.ports import DeliveryObserver, MailTransport
from alertmail.services.delivery import DeliveryOptions, DeliveryWorker
from alertmail.services.notifications import CoalescingOptions, NotificationService
from tests.support.smtp import HOST, SmtpServerOptions, SmtpSink, server_context
from tests.support.smtp_sink import RecordingSMTP, SinkHandler

__all__ = [
    "BACKOFF",
    "FROM",
    "AlertmailProcess",
    "DeliverySink",
    "FakeClock",
    "Sinks",
    "alertmail_env",
    "clocked_notifications",
    "clocked_worker",
    "delivery_config",
    "free_port",
    "outbox_of",
    "queue_messages",
    "relay_changes",
    "sinks",
    "wait_until",
]

FROM = "alerts@example.com"
# A retry 10 s after the first failure, doubling up to 10 minutes, without jitter: a FakeClock moved
# to `next_attempt_at` lands exactly on each retry.
BACKOFF = RetryPolicy(first_delay=timedelta(seconds=10), max_delay=timedelta(minutes=10), jitter=0)
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class DeliverySink(SmtpSink):
    """An `SmtpSink` on a chosen port (0: any), optionally slow, that counts what delivery did."""

    def __init__(
        self,
        options: SmtpServerOptions | None = None,
        *,
        tls_context: ssl.SSLContext | None = None,
        port: int = 0,
        data_delay: float = 0.0,
    ) -> None:
        super().__init__(options, tls_context=tls_context)
        self.port = port
        self.data_delay = data_delay
        self.arrivals: list[float] = []  # time.monotonic() of each accepted message
        self.open_now = 0
        self.peak_open = 0  # the most connections open at one time

    async def start(self) -> DeliverySink:
        loop = asyncio.get_running_loop()
        implicit = self.tls_context if self.options.tls == "implicit" else None
        self._server = await loop.create_server(self._protocol, HOST, self.port, ssl=implicit)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def message_ids(self) -> Counter[str]:
        """How many times each Message-ID arrived."""
        found = (_MESSAGE_ID.search(received.content) for received in self.messages)
        return Counter(match.group(1).decode() for match in found if match is not None)

    @property
    def duplicates(self) -> int:
        """Messages received more than once (the extra copies)."""
        return sum(count - 1 for count in self.message_ids.values())

    def _protocol(self) -> Any:
        if self.options.silent or self.options.greeting is not None:
            return super()._protocol()
        self.connections += 1
        return RecordingSMTP(self, _TimedHandler(self), **self._smtp_options())

    def _opened(self, protocol: Any, transport: Any) -> None:
        super()._opened(protocol, transport)
        self.open_now += 1
        self.peak_open = max(self.peak_open, self.open_now)

    def _closed(self, protocol: Any) -> None:
        if protocol in self._open:
            self.open_now -= 1
        super()._closed(protocol)


class _TimedHandler(SinkHandler):
    """The sink's handler, slowed by `data_delay` per message and noting when each one arrived."""

    def __init__(self, sink: DeliverySink) -> None:
        super().__init__(sink)
        self._delivery_sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self._delivery_sink.data_delay:
            await asyncio.sleep(self._delivery_sink.data_delay)
        reply = await super().handle_DATA(server, session, envelope)
        if reply.startswith("250"):
            self._delivery_sink.arrivals.append(time.monotonic())
        return reply


class Sinks:
    """Starts `DeliverySink`s (TLS ones with `tls_context`) and stops every one of them on exit."""

    def __init__(self, tls_context: ssl.SSLContext) -> None:
        self._tls_context = tls_context
        self._started: list[DeliverySink] = []

    async def start(self, *, port: int = 0, data_delay: float = 0.0, **options: Any) -> DeliverySink:
        sink = DeliverySink(
            SmtpServerOptions(**options), tls_context=self._tls_context, port=port, data_delay=data_delay
        )
        self._started.append(sink)
        return await sink.start()

    async def __aenter__(self) -> Sinks:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for sink in reversed(self._started):
            await sink.stop()


@pytest.fixture
async def sinks(tls_server_cert: trustme.LeafCert) -> AsyncIterator[Sinks]:
    async with Sinks(server_context(tls_server_cert)) as started:
        yield started


def delivery_config(data_dir: Path, database_url: str = "") -> AppConfig:
    """The app of a delivery test: small batches, so that several batches (and reused connections)
    are exercised; on `database_url` (the default SQLite file in `data_dir` without it)."""
    return AppConfig(
        data_dir=data_dir, database_url=database_url, node_name="test-node", delivery_batch_size=10
    )


class FakeClock:
    """A clock that stands still until the test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now

    def move_to(self, moment: datetime) -> datetime:
        self.now = max(self.now, moment)
        return self.now


def relay_changes(sink: SmtpSink | int, **changes: Any) -> dict[str, Any]:
    """Settings changes (as `SettingsService.save` takes them) for relaying to `sink`."""
    port = sink if isinstance(sink, int) else sink.port
    tls = "none" if isinstance(sink, int) else sink.options.tls
    encryption = {"none": "none", "implicit": "tls", "starttls": "starttls"}[tls]
    return {
        "from_address": FROM,
        "email_type": "smtp",
        "hostname": HOST,
        "port": port,
        "encryption": encryption,
        "connect_timeout": 5,
        "admin_contacts": ["ops@example.com", "oncall@example.com"],
        **changes,
    }


def outbox_of(container: Container) -> SqlOutboxRepository:
    """The outbox repository on the container's database (the repository the worker uses)."""
    return SqlOutboxRepository(container.database.sessionmaker, dialect=container.database.dialect)


async def queue_messages(
    container: Container,
    count: int,
    *,
    recipients: Sequence[str] = ("ops@example.com",),
    now: datetime | None = None,
    spacing: timedelta = timedelta(milliseconds=1),
    subject: str = "Alert",
) -> list[OutboxMessage]:
    """`count` messages committed to the outbox, created `spacing` apart (so their order is clear)
    and all due by `now`."""
    outbox = outbox_of(container)
    start = (now or datetime.now(UTC)) - spacing * count
    queued = []
    for number in range(count):
        message = new_outbox_message(
            event_type="test",
            recipients=recipients,
            subject=f"{subject} {number}",
            text=f"Alert number {number}.\n",
            html=f"<p>Alert number {number}.</p>",
            from_address=FROM,
            now=start + spacing * number,
            policy=RetryPolicy(),
        )
        queued.append(await outbox.enqueue(message))
    return queued


def clocked_worker(
    container: Container,
    clock: Callable[[], datetime],
    policy: RetryPolicy,
    *,
    options: DeliveryOptions | None = None,
    observer: DeliveryObserver | None = None,
) -> DeliveryWorker:
    """A worker on the container's database, relay adapters and Mail Server Logs, on `clock`."""
    database = container.database
    box = FernetSecretBox.from_key_file(container.config.resolved_secret_key_file)
    transports: dict[str, MailTransport] = {"smtp": SmtpTransport(tokens=container.oauth_tokens)}
    return DeliveryWorker(
        outbox_of(container),
        SqlSettingsRepository(database.sessionmaker, box),
        transports,
        container.sending,
        pacing=SqlPacingRepository(database.sessionmaker, dialect=database.dialect),
        policy=policy,
        node="test-node",
        options=options,
        observer=observer,
        on_dead_letter=lambda message, reason: dead_letter_notice(container.notifications, message, reason),
        clock=clock,
        random_fraction=lambda: 0.0,
    )


def clocked_notifications(
    container: Container, clock: FakeClock, *, coalescing: CoalescingOptions | None = None
) -> NotificationService:
    """A notification service on the container's database and configuration, on `clock`."""
    config = container.config
    database = container.database
    box = FernetSecretBox.from_key_file(config.resolved_secret_key_file)
    return NotificationService(
        EventCatalog.default(),
        JinjaEventRenderer(appliance="test-node", timezone=config.appliance_timezone),
        SqlEventRepository(database.sessionmaker, dialect=database.dialect),
        SqlSettingsRepository(database.sessionmaker, box),
        policy=RetryPolicy(),
        node="test-node",
        coalescing=coalescing
        or CoalescingOptions(
            window=timedelta(minutes=config.coalesce_window_minutes), max_mailed_keys=config.coalesce_max_keys
        ),
        clock=clock,
    )


# --- alertmail as separate processes --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def alertmail_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of an `alertmail` process on `data_dir`; `settings` are ALERTMAIL_* values."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ALERTMAIL_")}
    env["ALERTMAIL_DATA_DIR"] = str(data_dir)
    env.update({f"ALERTMAIL_{name.upper()}": value for name, value in settings.items()})
    return env


class AlertmailProcess:
    """`alertmail ARGS...` running in the background, its output in `log_path`."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        self.args = list(args)
        self.env = dict(env)
        self.log_path = log_path
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def process(self) -> asyncio.subprocess.Process:
        if self._process is None:
            raise RuntimeError("not started")
        return self._process

    async def start(self) -> AlertmailProcess:
        with self.log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "alertmail", *self.args, stdout=log, stderr=log, env=self.env
            )
        return self

    async def wait_healthy(self, base_url: str, *, within: float = 30.0) -> None:
        """Wait until `GET base_url/healthz` answers 200."""
        deadline = asyncio.get_running_loop().time() + within
        async with httpx.AsyncClient(trust_env=False) as http:
            while asyncio.get_running_loop().time() < deadline:
                if self.process.returncode is not None:
                    raise AssertionError(f"alertmail {self.args[0]} exited: {self.output()}")
                with suppress(httpx.TransportError):
                    if (await http.get(base_url + "/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise AssertionError(f"alertmail {self.args[0]} did not answer /healthz: {self.output()}")

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut or an OOM kill."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), timeout=15)
            except TimeoutError:
                await self.kill()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


async def wait_until(condition: Callable[[], bool], *, within: float, interval: float = 0.01) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {within} s")
        await asyncio.sleep(interval)
