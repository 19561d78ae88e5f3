"""The delivery worker: claims due outbox messages and sends them through the configured relay.

One worker per process, any number of processes per database: claims are leased (see
outbox_repository.py), so two workers never hold one message. A batch is sent over at most
`max_connections` connections that stay open across batches, paced by `messages_per_minute`.

Failures are sorted in two (see `_affects_relay`):
- about the relay (unreachable, TLS, refused login or token, throttled): the rest of the batch is
  given back untried, one Mail Server Logs entry says why, and the worker stops claiming until the
  backoff is over (retryable) or until the configuration changes (not retryable: a new settings
  version, or a new OAuth2 sign-in, on any node);
- about the message (a recipient refused, content refused): that message alone fails.
Deliveries are recorded in one transaction per batch: a crash between a send and that commit sends
those messages again (same Message-ID), never loses them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from alertmail.domain.classification import Classification, classify
from alertmail.domain.message import build_message
from alertmail.domain.outbox import FailureDecision, OutboxMessage, RetryPolicy, decide
from alertmail.domain.ports import (
    DeliveryObserver,
    MailSession,
    MailTransport,
    OutboxRepository,
    SettingsRepository,
)
from alertmail.domain.records import MailLogEntry, StoredSettings
from alertmail.domain.settings import MailSettings, settings_snapshot
from alertmail.domain.submission import prepare_for_relay
from alertmail.errors import SmtpReplyError, TransportError
from alertmail.services.clock import Clock, utc_now
from alertmail.services.rate_limiter import RateLimiter
from alertmail.services.sending import MailSendingService

__all__ = ["DeliveryOptions", "DeliveryWorker", "NullObserver"]

logger = logging.getLogger(__name__)

Marker = Callable[[], Awaitable[object]]
DeadLetterHook = Callable[[OutboxMessage, str], Awaitable[None]]
_MESSAGE_STAGES = frozenset({"mail", "rcpt", "data"})
_RELAY_CATEGORIES = frozenset({"smtp_throttled", "smtp_auth", "smtp_policy"})


@dataclass(frozen=True)
class DeliveryOptions:
    batch_size: int = 100
    lease: timedelta = timedelta(minutes=2)
    poll_interval: float = 1.0  # seconds between looks at an empty outbox (an enqueue wakes it sooner)
    idle_close: float = 20.0  # seconds: a connection unused this long is closed, not reused


class NullObserver:
    def sent(self, count: int, latencies: Sequence[float]) -> None: ...

    def failed(self, category: str) -> None: ...

    def retry_scheduled(self) -> None: ...

    def dead_lettered(self) -> None: ...


@dataclass
class _Lane:
    """One connection to the relay and when it was last used."""

    session: MailSession | None = None
    last_used: float = 0.0


@dataclass
class _Batch:
    """What one claimed batch came to."""

    sent: list[OutboxMessage] = field(default_factory=list)
    untried: list[OutboxMessage] = field(default_factory=list)
    relay_failure: tuple[OutboxMessage, TransportError, Classification] | None = None
    message_failures: list[tuple[OutboxMessage, TransportError, Classification]] = field(default_factory=list)


class DeliveryWorker:
    def __init__(
        self,
        outbox: OutboxRepository,
        settings: SettingsRepository,
        transports: Mapping[str, MailTransport],
        sending: MailSendingService,
        *,
        policy: RetryPolicy,
        node: str,
        options: DeliveryOptions | None = None,
        observer: DeliveryObserver | None = None,
        authorization_marker: Marker | None = None,
        on_dead_letter: DeadLetterHook | None = None,
        clock: Clock = utc_now,
        random_fraction: Callable[[], float] = random.random,
    ) -> None:
        self._outbox = outbox
        self._settings = settings
        self._transports = transports
        self._sending = sending
        self._policy = policy
        self._owner = f"{node}:{uuid.uuid4().hex[:12]}"  # unique per worker: leases are checked by owner
        self._options = options or DeliveryOptions()
        self._observer: DeliveryObserver = observer or NullObserver()
        self._authorization_marker = authorization_marker
        self._on_dead_letter = on_dead_letter
        self._clock = clock
        self._random = random_fraction
        self._lanes: list[_Lane] = []
        self._lanes_version = -1
        self._limiter = RateLimiter(0)
        self._seen_config: tuple[int, object] | None = None
        self._blocked_on: tuple[int, object] | None = None
        self._backoff_until: datetime | None = None
        self._relay_failures = 0  # relay failures in a row: the relay's backoff, whatever message hit it
        self._wake = asyncio.Event()

    @property
    def owner(self) -> str:
        return self._owner

    @property
    def blocked(self) -> bool:
        """True while the last relay failure needs a configuration change to clear."""
        return self._blocked_on is not None

    def wake(self) -> None:
        """Look at the outbox now (a message was just queued) rather than at the next poll."""
        self._wake.set()

    async def run_forever(self) -> None:
        try:
            while True:
                try:
                    handled = await self.run_once()
                except Exception:
                    # The database may be briefly unreachable: keep the worker alive, try again.
                    logger.exception("delivery worker: batch failed; trying again")
                    handled = 0
                if handled:
                    continue
                await self._close_idle()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._options.poll_interval)
                self._wake.clear()
        finally:
            await self.close()

    async def run_once(self) -> int:
        """Claim one batch of due messages and deliver it; how many messages were handled."""
        stored = await self._settings.load()
        settings = stored.settings
        if not _sendable(settings):
            return 0  # never configured: messages wait, queued, for the first save
        if not await self._configuration_allows(stored):
            return 0
        now = self._clock()
        if self._backoff_until is not None and now < self._backoff_until:
            return 0
        self._backoff_until = None
        claimed = await self._outbox.claim(self._owner, now, self._options.lease, self._claim_limit(settings))
        if not claimed:
            return 0
        live = [m for m in claimed if not await self._expired(m, settings, now)]
        if live:
            await self._deliver(live, stored)
        return len(claimed)

    async def close(self) -> None:
        lanes, self._lanes = self._lanes, []
        for lane in lanes:
            await _close(lane)

    # --- the configuration gate ------------------------------------------------------------------

    async def _configuration_allows(self, stored: StoredSettings) -> bool:
        """False while blocked on a configuration that has not changed since the relay refused it.

        A change (a new settings version or a new OAuth2 sign-in, made on any node) releases the
        messages that were waiting for it, once.
        """
        config = (stored.version, await self._marker(stored.settings))
        changed = self._seen_config is not None and config != self._seen_config
        self._seen_config = config
        if changed:
            self._blocked_on = None
            self._backoff_until = None
            self._relay_failures = 0
            released = await self._outbox.release_waiting(self._clock())
            if released:
                logger.info("configuration changed: %d waiting message(s) queued again", released)
        return self._blocked_on is None

    async def _marker(self, settings: MailSettings) -> object:
        if settings.auth_type != "oauth2" or self._authorization_marker is None:
            return None
        return await self._authorization_marker()

    def _claim_limit(self, settings: MailSettings) -> int:
        if not settings.messages_per_minute:
            return self._options.batch_size
        # Paced sends must all fit well inside the lease, or another worker would take them over.
        fits = settings.messages_per_minute * self._options.lease.total_seconds() / 60 / 2
        return max(1, min(self._options.batch_size, int(fits)))

    # --- sending a batch -------------------------------------------------------------------------

    async def _deliver(self, messages: list[OutboxMessage], stored: StoredSettings) -> None:
        settings = stored.settings
        await self._prepare_lanes(stored)
        pending = list(reversed(messages))
        batch = _Batch()
        lanes = self._lanes[: max(1, min(len(self._lanes), len(messages)))]
        await asyncio.gather(*(self._drain(lane, pending, batch, settings) for lane in lanes))
        batch.untried.extend(pending)
        await self._record(batch, settings)

    async def _prepare_lanes(self, stored: StoredSettings) -> None:
        if self._lanes_version != stored.version:
            # New settings: connections opened under the old ones must not be reused.
            stale, self._lanes = self._lanes, []
            for lane in stale:
                await _close(lane)
            self._limiter = RateLimiter(stored.settings.messages_per_minute)
            self._lanes_version = stored.version
        while len(self._lanes) < stored.settings.max_connections:
            self._lanes.append(_Lane())

    async def _drain(
        self, lane: _Lane, pending: list[OutboxMessage], batch: _Batch, settings: MailSettings
    ) -> None:
        while pending and batch.relay_failure is None:
            message = pending.pop()
            await self._limiter.acquire()
            try:
                await self._send(lane, message, settings)
            except TransportError as error:
                classification = classify(error)
                if _affects_relay(error, classification):
                    if batch.relay_failure is None:
                        batch.relay_failure = (message, error, classification)
                    else:
                        batch.untried.append(message)  # the first relay failure speaks for it
                    await _close(lane)
                    return
                batch.message_failures.append((message, error, classification))
            else:
                batch.sent.append(message)

    async def _send(self, lane: _Lane, message: OutboxMessage, settings: MailSettings) -> None:
        email = _email(message, settings, self._clock())
        loop = asyncio.get_running_loop()
        fresh = await self._session(lane, settings)
        try:
            await _session_of(lane).send(email, message.recipients)
        except TransportError as error:
            if fresh or isinstance(error, SmtpReplyError):
                raise
            # A reused connection the relay dropped since: one new connection, one more try.
            await _close(lane)
            await self._session(lane, settings)
            await _session_of(lane).send(email, message.recipients)
        lane.last_used = loop.time()

    async def _session(self, lane: _Lane, settings: MailSettings) -> bool:
        """Make sure the lane has an open session; True when it was opened just now."""
        idle = asyncio.get_running_loop().time() - lane.last_used
        if lane.session is not None and (not lane.session.usable or idle > self._options.idle_close):
            await _close(lane)
        if lane.session is not None:
            return False
        lane.session = await self._transports[settings.email_type].open_session(settings)
        return True

    async def _close_idle(self) -> None:
        now = asyncio.get_running_loop().time()
        for lane in self._lanes:
            if lane.session is not None and now - lane.last_used > self._options.idle_close:
                await _close(lane)

    # --- recording what happened -----------------------------------------------------------------

    async def _record(self, batch: _Batch, settings: MailSettings) -> None:
        now = self._clock()
        if batch.sent:
            self._relay_failures = 0
            await self._outbox.mark_sent_many([m.id for m in batch.sent], self._owner, now)
            self._observer.sent(len(batch.sent), [(now - m.created_at).total_seconds() for m in batch.sent])
        for message, error, classification in batch.message_failures:
            await self._fail(message, error, classification, settings, now)
        if batch.relay_failure is not None:
            message, error, classification = batch.relay_failure
            # A message on its first attempt must not bring an outage back to the first delay.
            self._relay_failures += 1
            attempts = max(message.attempts, self._relay_failures)
            decision = await self._fail(message, error, classification, settings, now, attempts=attempts)
            await self._hold_relay(decision, batch.untried, settings, now)
        elif batch.untried:
            await self._outbox.release_unattempted(
                [m.id for m in batch.untried], self._owner, status="retry_wait", next_attempt_at=now
            )

    async def _fail(
        self,
        message: OutboxMessage,
        error: TransportError,
        classification: Classification,
        settings: MailSettings,
        now: datetime,
        *,
        attempts: int | None = None,
    ) -> FailureDecision:
        decision = decide(
            retryable=classification.retryable,
            category=classification.category,
            policy=self._policy,
            attempts=message.attempts if attempts is None else attempts,
            now=now,
            created_at=message.created_at,
            random_fraction=self._random(),
        )
        await self._sending.record_failure(error, classification, settings, context=_context(message))
        await self._outbox.mark_failed(
            message.id,
            self._owner,
            status=decision.status,
            next_attempt_at=decision.next_attempt_at,
            last_error=classification.message,
            last_category=classification.category,
        )
        self._observer.failed(classification.category)
        if decision.status == "retry_wait":
            self._observer.retry_scheduled()
        elif decision.status == "dead":
            await self._dead_lettered(message, classification.message)
        return decision

    async def _hold_relay(
        self, decision: FailureDecision, untried: list[OutboxMessage], settings: MailSettings, now: datetime
    ) -> None:
        ids = [m.id for m in untried]
        if decision.status == "waiting_config":
            self._blocked_on = self._seen_config
            await self._outbox.release_unattempted(
                ids, self._owner, status="waiting_config", next_attempt_at=None
            )
            return
        resume = decision.next_attempt_at or now + self._policy.first_delay
        self._backoff_until = resume
        await self._outbox.release_unattempted(ids, self._owner, status="retry_wait", next_attempt_at=resume)

    async def _expired(self, message: OutboxMessage, settings: MailSettings, now: datetime) -> bool:
        """Dead-letter a message claimed past its lifetime without trying it; True when it was."""
        if now < message.created_at + self._policy.lifetime:
            return False
        reason = (
            f"Gave up after {message.attempts - 1} attempt(s) over {_days(self._policy.lifetime)}: "
            f"{message.last_error or 'never sent'}"
        )
        await self._sending.record(
            MailLogEntry(
                registered_at=now,
                auth_type=settings.auth_type,
                status="error",
                category="expired",
                retryable=False,
                message=reason,
                hint="The relay never accepted this message in time. Fix the cause shown by the "
                "earlier entries, then retry the message from the outbox (alertmail outbox retry ID).",
                settings_snapshot=settings_snapshot(settings),
                context=_context(message),
            )
        )
        await self._outbox.mark_failed(
            message.id,
            self._owner,
            status="dead",
            next_attempt_at=None,
            last_error=reason,
            last_category="expired",
        )
        await self._dead_lettered(message, reason)
        return True

    async def _dead_lettered(self, message: OutboxMessage, reason: str) -> None:
        self._observer.dead_lettered()
        if self._on_dead_letter is not None and message.event_type != "delivery.dead_lettered":
            # Never about a dead-letter notice itself: that could chain without end.
            await self._on_dead_letter(message, reason)


def _sendable(settings: MailSettings) -> bool:
    return bool(settings.from_address) and (settings.email_type == "native" or bool(settings.hostname))


def _affects_relay(error: TransportError, classification: Classification) -> bool:
    """Would the next message fail the same way? Then stop and hold the batch."""
    if classification.category in _RELAY_CATEGORIES:
        return True
    # Otherwise only a refusal of this message's envelope or content spares the relay; connecting,
    # TLS, the greeting, the login, tokens and the local MTA fail every message alike.
    return not (isinstance(error, SmtpReplyError) and error.stage in _MESSAGE_STAGES)


def _email(message: OutboxMessage, settings: MailSettings, now: datetime) -> EmailMessage:
    if message.raw is not None:
        return prepare_for_relay(message.raw, settings.from_address)
    return build_message(
        from_address=settings.from_address,
        to=message.recipients,
        subject=message.subject,
        text=message.text,
        html=message.html,
        sent_at=now,
        message_id=message.message_id,
    )


def _session_of(lane: _Lane) -> MailSession:
    if lane.session is None:
        raise RuntimeError("the lane has no session")  # `_session` opened one just before
    return lane.session


async def _close(lane: _Lane) -> None:
    session, lane.session = lane.session, None
    if session is not None:
        with suppress(Exception):  # closing a broken connection must not hide the real failure
            await session.close()


def _context(message: OutboxMessage) -> str:
    return f"outbox {message.id} ({message.event_type})"


def _days(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours / 24:g} day(s)" if hours >= 24 else f"{hours:g} hour(s)"
