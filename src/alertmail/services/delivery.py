"""The delivery worker: claims due outbox messages and sends them through the configured relay.

One worker per process, any number of processes per database: claims are leased (see
outbox_repository.py) and renewed while a batch is in flight (delivery_leases.py), so two workers
never hold one message. A batch is sent over at most `max_connections` lanes (delivery_lanes.py)
that stay open across batches, under one `asyncio.TaskGroup`. `max_connections` and
`messages_per_minute` hold for the whole cluster, not per worker: each connection and each message
takes a token kept in the database and shared by every worker of every node (domain/pacing.py says
why tokens rather than one sending node, services/pacing.py how they are waited for and renewed).
Message tokens are taken ahead for the rest of the batch and given back together at its end (one
write each way rather than two per message).

Failures are sorted in two (see `delivery_lanes.affects_whole_relay`):
- about the relay (unreachable, TLS, refused login or token, throttled, 421): the rest of the batch
  is given back untried, one Mail Server Logs entry says why, and the worker stops claiming until
  the backoff is over (retryable) or until the configuration changes (not retryable). What the
  messages wait for (settings version, OAuth2 sign-in) is stored with them, so any worker on any
  node, one just started too, releases them once it changed;
- about the message or one recipient (a recipient refused, content refused, an unexpected error):
  that message, or that recipient, alone fails (delivery_outcomes.py).
Deliveries are recorded once per batch: a crash between a send and that record sends those
messages again (same Message-ID), never loses them.

Each batch goes through the transport `FallbackService.route` names (fallback_transport.py): the
primary, or the fallback once the primary's relay-wide failures have lasted `fallback_after_minutes`.
Only relay-wide failures of the primary count towards that; a switch, made by any node, frees what
the other transport held.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from alertmail.domain.mail_api import connection_limit
from alertmail.domain.outbox import OutboxMessage, RetryPolicy, WaitingFor
from alertmail.domain.pacing import WINDOW, PacingRepository
from alertmail.domain.ports import DeliveryObserver, MailTransport, OutboxRepository, SettingsRepository
from alertmail.domain.records import StoredSettings
from alertmail.domain.settings import API_TYPES, MailSettings
from alertmail.services.clock import Clock, utc_now
from alertmail.services.delivery_lanes import Attempt, Lane, Lanes
from alertmail.services.delivery_leases import LeaseKeeper
from alertmail.services.delivery_outcomes import Batch, DeadLetterHook, Outcomes
from alertmail.services.fallback_transport import FallbackService, Route
from alertmail.services.pacing import ClusterPacing
from alertmail.services.sending import MailSendingService

__all__ = ["DeadLetterHook", "DeliveryOptions", "DeliveryWorker", "NullObserver"]

logger = logging.getLogger(__name__)

Marker = Callable[[], Awaitable[datetime | None]]


@dataclass(frozen=True)
class DeliveryOptions:
    batch_size: int = 100
    lease: timedelta = timedelta(minutes=2)
    poll_interval: float = 1.0  # seconds between looks at an empty outbox (an enqueue wakes it sooner)
    idle_close: float = 20.0  # seconds: a connection unused this long is closed, not reused
    # A dead worker's pacing tokens come back after this (renewed every third of it while held).
    pacing_lease: timedelta = timedelta(seconds=15)
    pacing_window: timedelta = WINDOW  # `messages_per_minute` counts over this; shorter only in tests
    pacing_poll: float = 1.0  # seconds: a worker waiting for a token asks again at least this often


class NullObserver:
    def sent(self, count: int, latencies: Sequence[float]) -> None: ...

    def failed(self, category: str) -> None: ...

    def retry_scheduled(self) -> None: ...

    def dead_lettered(self) -> None: ...

    def lease_lost(self, count: int) -> None: ...


class DeliveryWorker:
    def __init__(
        self,
        outbox: OutboxRepository,
        settings: SettingsRepository,
        transports: Mapping[str, MailTransport],
        sending: MailSendingService,
        *,
        pacing: PacingRepository,
        policy: RetryPolicy,
        node: str,
        options: DeliveryOptions | None = None,
        observer: DeliveryObserver | None = None,
        authorization_marker: Marker | None = None,
        on_dead_letter: DeadLetterHook | None = None,
        fallback: FallbackService | None = None,
        fallback_transports: Mapping[str, MailTransport] | None = None,
        clock: Clock = utc_now,
        random_fraction: Callable[[], float] = random.random,
    ) -> None:
        self._outbox = outbox
        self._settings = settings
        self._policy = policy
        self._owner = f"{node}:{uuid.uuid4().hex[:12]}"  # unique per worker: leases are checked by owner
        self._options = options or DeliveryOptions()
        self._authorization_marker = authorization_marker
        self._fallback = fallback
        # The fallback's transports: its own token source (a Graph fallback's app-only tokens must
        # never land in the primary's stored token row); the primary's where they need none apart.
        self._by_route: dict[str, Mapping[str, MailTransport]] = {
            "primary": transports,
            "fallback": fallback_transports or transports,
        }
        self._clock = clock
        self._pacing = _cluster_pacing(pacing, self._owner, self._options, clock)
        self._lanes = Lanes(transports, self._pacing, idle_close=self._options.idle_close)
        self._leases = LeaseKeeper(outbox, self._owner, lease=self._options.lease, clock=clock)
        self._outcomes = Outcomes(
            outbox,
            sending,
            policy=policy,
            owner=self._owner,
            observer=observer or NullObserver(),
            clock=clock,
            random_fraction=random_fraction,
            on_dead_letter=on_dead_letter,
        )
        self._seen_config: WaitingFor | None = None
        self._seen_route: tuple[str, int] | None = None
        self._wake = asyncio.Event()
        self.restarts = 0  # times the worker's loop died of an unexpected error and was restarted

    @property
    def owner(self) -> str:
        return self._owner

    @property
    def blocked(self) -> bool:
        """True while the last relay failure needs a configuration change to clear."""
        return self._outcomes.relay.blocked_on is not None

    def wake(self) -> None:
        """Look at the outbox now (a message was just queued) rather than at the next poll."""
        self._wake.set()

    async def run_forever(self) -> None:
        """Deliver until cancelled. The loop never stays dead: an error that escapes it is logged
        and the loop started again."""
        try:
            while True:
                try:
                    await self._loop()
                except Exception:
                    self.restarts += 1
                    logger.exception(
                        "delivery worker died unexpectedly; restarting it (restart %d)", self.restarts
                    )
                    await asyncio.sleep(self._options.poll_interval)
        finally:
            await self.close()

    async def _loop(self) -> None:
        while True:
            try:
                handled = await self.run_once()
            except Exception:
                # The database may be briefly unreachable: keep the worker alive, try again.
                logger.exception("delivery worker: batch failed; trying again")
                handled = 0
            if handled:
                continue
            await self._lanes.close_idle()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._options.poll_interval)
            self._wake.clear()

    async def run_once(self) -> int:
        """Claim one batch of due messages and deliver it; how many messages were handled."""
        stored = await self._settings.load()
        settings = stored.settings
        if not _sendable(settings):
            return 0  # never configured: messages wait, queued, for the first save
        route = await self._route(settings)  # before any hold: a held primary is what starts the fallback
        config = await self._configuration(stored)
        if self.blocked:
            return 0
        now = self._clock()
        relay = self._outcomes.relay
        if relay.backoff_until is not None and now < relay.backoff_until:
            return 0
        relay.backoff_until = None
        claimed = await self._outbox.claim(self._owner, now, self._options.lease, self._claim_limit(settings))
        live = []
        for message in claimed:
            if now >= message.created_at + self._policy.lifetime:
                await self._outcomes.expired(message, settings, now)
            else:
                live.append(message)
        if live:
            await self._deliver(live, route, stored.version, config)
        await self._make_way()
        return len(claimed)

    async def _make_way(self) -> None:
        """Between batches: give the connections back if another worker waits for one."""
        if self._lanes.holding and await self._pacing.others_want_connections():
            await self._lanes.close()

    async def close(self) -> None:
        await self._lanes.close()
        await self._pacing.close()

    # --- the configuration gate ------------------------------------------------------------------

    async def _configuration(self, stored: StoredSettings) -> WaitingFor:
        """The configuration now. A change (a new settings version or a new OAuth2 sign-in, made on
        any node) releases the messages waiting on an older one, once; so does a worker's first look,
        for messages held before it started."""
        config = WaitingFor(stored.version, await self._marker(stored.settings))
        if config != self._seen_config:
            self._seen_config = config
            relay = self._outcomes.relay
            relay.blocked_on, relay.backoff_until, relay.failures = None, None, 0
            released = await self._outbox.release_changed(self._clock(), config)
            if released:
                logger.info("configuration changed: %d waiting message(s) queued again", released)
        return config

    async def _route(self, settings: MailSettings) -> Route:
        """The transport to send through. A switch (made by any node) frees what the other one held:
        the relay's hold, the messages waiting on its configuration or its backoff."""
        if self._fallback is None:
            return Route("primary", settings)
        relay = self._outcomes.relay
        held = self.blocked or (relay.backoff_until is not None and self._clock() < relay.backoff_until)
        route = await self._fallback.route(settings, primary_held=held)
        seen = (route.name, self._fallback.generation)
        # A worker that starts on the fallback frees what the primary held before the restart too.
        if seen != self._seen_route and (self._seen_route is not None or route.name == "fallback"):
            relay.blocked_on, relay.backoff_until, relay.failures = None, None, 0
            now = self._clock()
            released = await self._outbox.release_waiting(now) + await self._outbox.release_retrying(now)
            logger.warning(
                "mail now goes through the %s transport; %d held message(s) queued", route.name, released
            )
        self._seen_route = seen
        return route

    async def _marker(self, settings: MailSettings) -> datetime | None:
        if settings.auth_type != "oauth2" or self._authorization_marker is None:
            return None
        return await self._authorization_marker()

    def _claim_limit(self, settings: MailSettings) -> int:
        if not settings.messages_per_minute:
            return self._options.batch_size
        # Paced sends should fit inside the lease (it is renewed, but a crash then repeats fewer).
        fits = settings.messages_per_minute * self._options.lease.total_seconds() / 60 / 2
        return max(1, min(self._options.batch_size, int(fits)))

    # --- sending a batch -------------------------------------------------------------------------

    async def _deliver(
        self, messages: list[OutboxMessage], route: Route, version: int, config: WaitingFor
    ) -> None:
        settings = route.settings
        await self._lanes.prepare((version, route.name), _connections(settings), self._by_route[route.name])
        pending = list(reversed(messages))
        batch = Batch()
        in_flight: dict[str, OutboxMessage] = {}
        async with self._leases.held([m.id for m in messages]):
            try:
                async with asyncio.TaskGroup() as lanes:
                    for lane in self._lanes.first(len(messages)):
                        lanes.create_task(self._drain(lane, pending, batch, in_flight, settings))
            except* Exception as failed:
                # A lane died outside an attempt (a bug): the others were cancelled; what any lane
                # had in hand becomes that message's failure, and the rest is still recorded.
                logger.error("delivery: a lane failed; recording the batch", exc_info=failed)
                error = failed.exceptions[0]
                batch.attempts.extend(Attempt(m, internal=_as_exception(error)) for m in in_flight.values())
        batch.untried.extend(pending)
        await self._pacing.settle()  # the message tokens taken ahead and not used: free again
        await self._outcomes.record(batch, settings, config, transport=route.name)
        await self._report_primary(batch, route)

    async def _report_primary(self, batch: Batch, route: Route) -> None:
        """Tell the fallback service how the primary did: only a relay-wide failure counts."""
        if self._fallback is None or route.name != "primary":
            return
        if batch.relay_failure is not None:
            await self._fallback.primary_failed(batch.relay_failure[2])
        elif any(attempt.internal is None for attempt in batch.attempts):
            # The relay answered about a message (took it, or refused one recipient or its content):
            # it works, whatever that message's own fate.
            await self._fallback.primary_worked()

    async def _drain(
        self,
        lane: Lane,
        pending: list[OutboxMessage],
        batch: Batch,
        in_flight: dict[str, OutboxMessage],
        settings: MailSettings,
    ) -> None:
        def still_needed() -> bool:
            return bool(pending) and batch.relay_failure is None

        while still_needed():
            if not await self._lanes.ready(lane, _connections(settings), still_needed) or not still_needed():
                return  # the other lanes sent the rest while this one waited for a connection
            message = pending.pop()
            in_flight[message.id] = message
            wanted = len(pending) + 1
            attempt = await self._lanes.attempt(lane, message, settings, self._clock(), wanted=wanted)
            relay = attempt.relay_failure()
            del in_flight[message.id]
            if relay is None:
                batch.attempts.append(attempt)
                continue
            if batch.relay_failure is None:
                batch.relay_failure = (attempt, *relay)
            elif attempt.error is not None:
                batch.untried.append(message)  # the first relay failure speaks for it
            else:
                batch.attempts.append(attempt)  # a 421 to one recipient: the others' outcome counts
            await self._lanes.release(lane)
            return


def _connections(settings: MailSettings) -> int:
    # A mail API's per-mailbox limit holds for every node together: it caps the cluster's tokens.
    return connection_limit(settings.email_type, settings.max_connections)


def _sendable(settings: MailSettings) -> bool:
    relayless = settings.email_type in ("native", *API_TYPES)  # no SMTP host to name
    return bool(settings.from_address) and (relayless or bool(settings.hostname))


def _as_exception(error: BaseException) -> Exception:
    return error if isinstance(error, Exception) else RuntimeError(repr(error))


def _cluster_pacing(
    pacing: PacingRepository, owner: str, options: DeliveryOptions, clock: Clock
) -> ClusterPacing:
    return ClusterPacing(
        pacing,
        owner,
        clock=clock,
        lease=options.pacing_lease,
        window=options.pacing_window,
        max_poll=options.pacing_poll,
    )
