"""Which transport mail goes through now: the primary, or the fallback while the primary is down.

The delivery worker asks `route(settings)` before each batch and reports the primary's relay-wide
failures and successes. The switch to the fallback, and the switch back once a probe of the
primary succeeds, are compare-and-sets on the shared state row, each committed together with its
notice to the administrators (`NotificationService.raise_once` with a `TransportSwitch` claim): a
switch is mailed exactly once, whichever node makes it, and never without being mailed. The
"fallback in use" notice is queued after the switch, so it goes out through the fallback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from alertmail.domain.classification import Classification, classify
from alertmail.domain.fallback import (
    FALLBACK_STARTED,
    PRIMARY_RESTORED,
    ActiveTransport,
    PrimaryFailure,
    TransportState,
    TransportStateRepository,
    TransportSwitch,
    fallback_configured,
    fallback_view,
    should_use_fallback,
)
from alertmail.domain.ports import SettingsRepository
from alertmail.domain.records import MailLogEntry
from alertmail.domain.settings import MailSettings, settings_snapshot
from alertmail.errors import TransportError
from alertmail.services.clock import Clock, utc_now
from alertmail.services.notifications import NotificationService
from alertmail.services.sending import MailSendingService

__all__ = ["FallbackService", "Route", "TransportProbe", "describe_transport"]

logger = logging.getLogger(__name__)

PROBE_CONTEXT = "probe of the primary transport"


class TransportProbe(Protocol):
    async def probe(self, settings: MailSettings) -> None:
        """Connect, secure and authenticate as a send would, send nothing; raise `TransportError`."""
        ...


@dataclass(frozen=True)
class Route:
    """The transport a batch goes through, and the settings that transport sends with."""

    name: ActiveTransport
    settings: MailSettings


class FallbackService:
    def __init__(
        self,
        state: TransportStateRepository,
        settings: SettingsRepository,
        notifications: NotificationService,
        sending: MailSendingService,
        probes: Mapping[str, TransportProbe],
        *,
        probe_every: timedelta = timedelta(minutes=2),
        clock: Clock = utc_now,
    ) -> None:
        self._state = state
        self._settings = settings
        self._notifications = notifications
        self._sending = sending
        self._probes = probes
        self._probe_every = probe_every
        self._clock = clock
        self._last = TransportState()
        self._settings_seen: int | None = None  # the settings version the last probe look saw
        self._threshold = timedelta(minutes=10)  # the settings' fallback_after_minutes, as last seen

    async def state(self) -> TransportState:
        return await self._state.load()

    @property
    def generation(self) -> int:
        """The generation of the state `route` last saw: it moves with every switch."""
        return self._last.generation

    async def route(self, settings: MailSettings, *, primary_held: bool = False) -> Route:
        """The transport to send through now; starts the fallback when the primary's time is up.

        `primary_held`: the caller holds mail back because of the primary (its backoff, or a
        configuration it waits on), so the time since its last failure is no quiet period."""
        state = self._last = await self._state.load()
        now = self._clock()
        self._threshold = timedelta(minutes=settings.fallback_after_minutes)
        if not fallback_configured(settings):
            if state.active == "fallback":  # the fallback was switched off: back to the primary
                if await self._state.switch(TransportSwitch("primary", now, state.generation)):
                    message = "The fallback transport was switched off: mail goes through the primary again"
                    await self._log(settings, "info", message, "", now)
                self._last = await self._state.load()
            return Route("primary", settings)
        due = should_use_fallback(
            state.primary_failing_since,
            self._threshold,
            now,
            last_failed_at=state.primary_last_failed_at,
            primary_held=primary_held,
        )
        if state.active == "primary" and due:
            await self._start_fallback(state, settings, now)
            state = self._last = await self._state.load()
        if state.active == "fallback":
            return Route("fallback", fallback_view(settings))
        return Route("primary", settings)

    async def primary_failed(self, classification: Classification) -> None:
        """The primary failed for the whole relay (never for one message or recipient alone)."""
        failure = PrimaryFailure(classification.category, classification.message, classification.hint)
        self._last = await self._state.primary_failed(self._clock(), failure, self._threshold)

    async def primary_worked(self) -> None:
        if self._last.primary_failing_since is not None:
            await self._state.primary_worked()
            self._last = await self._state.load()

    async def probe_if_due(self) -> bool | None:
        """Probe the primary if on the fallback and no node has this interval; True when it passed
        (and mail is back on it), False when it failed, None when no probe was due."""
        stored = await self._settings.load()
        settings, now = stored.settings, self._clock()
        self._threshold = timedelta(minutes=settings.fallback_after_minutes)
        probe = self._probes.get(settings.email_type)
        if probe is None or not fallback_configured(settings):
            return None
        # Settings saved since this process last looked (the primary fixed?): probe now, not later.
        changed = self._settings_seen is not None and stored.version != self._settings_seen
        self._settings_seen = stored.version
        state = await self._state.claim_probe(now, now + self._probe_every, due_or_not=changed)
        if state is None:
            return None
        try:
            await probe.probe(settings)
        except TransportError as error:
            classification = classify(error)
            await self._sending.record_failure(
                error, classification, settings, context=PROBE_CONTEXT, transport="primary"
            )
            await self.primary_failed(classification)
            return False
        await self._restore(state, settings, now)
        return True

    async def run_probes_forever(self) -> None:
        """Look for a due probe now and then (the state row says when one is due, for every node)."""
        every = min(15.0, self._probe_every.total_seconds())
        while True:
            try:
                await self.probe_if_due()
            except Exception:  # the database may be briefly away: the next look tries again
                logger.exception("fallback: probing the primary transport failed; trying again")
            await asyncio.sleep(every)

    async def _start_fallback(self, state: TransportState, settings: MailSettings, now: datetime) -> None:
        switch = TransportSwitch("fallback", now, state.generation, next_probe_at=now + self._probe_every)
        failure = state.failure or PrimaryFailure("", "", "")
        details = {
            "primary": describe_transport(settings),
            "fallback": describe_transport(fallback_view(settings)),
            "failing_since": _when(state.primary_failing_since or now),
            "category": failure.category,
            "failure": failure.message,
            "fix": failure.hint,
        }
        recorded = await self._notifications.raise_once(
            switch, FALLBACK_STARTED, details, dedupe_key=now.isoformat(), source="delivery"
        )
        if recorded is not None:
            message = _started_message(details)
            logger.warning("%s", message)
            await self._log(settings, "warning", message, failure.hint, now)

    async def _restore(self, state: TransportState, settings: MailSettings, now: datetime) -> None:
        switch = TransportSwitch("primary", now, state.generation)
        details = {
            "primary": describe_transport(settings),
            "fallback_since": _when(state.active_since or now),
            "restored_at": _when(now),
        }
        recorded = await self._notifications.raise_once(
            switch, PRIMARY_RESTORED, details, dedupe_key=now.isoformat(), source="delivery"
        )
        if recorded is not None:
            logger.info("the primary transport works again: mail goes through it")
            message = (
                f"The primary transport ({details['primary']}) passed its probe: mail goes through it again"
            )
            await self._log(settings, "info", message, "", now)

    async def _log(self, settings: MailSettings, status: str, message: str, hint: str, now: datetime) -> None:
        await self._sending.record(
            MailLogEntry(
                registered_at=now,
                auth_type=settings.auth_type,
                status=status,
                category="fallback",
                retryable=False,
                message=message,
                hint=hint,
                settings_snapshot=settings_snapshot(settings),
                context="transport switch",
            )
        )


def describe_transport(settings: MailSettings) -> str:
    """How an administrator recognises a transport: its type and where it sends."""
    if settings.email_type == "smtp":
        return f"smtp {settings.hostname}:{settings.port}"
    if settings.email_type in (
        "graph",
        "gmail_api",
    ):  # the mailbox: a Graph primary and fallback differ in it
        return f"{settings.email_type} {settings.username}"
    return settings.email_type


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _started_message(details: Mapping[str, str]) -> str:
    return (
        f"The primary transport ({details['primary']}) has failed since {details['failing_since']}"
        f" ({details['category']}: {details['failure']}): mail now goes through the fallback"
        f" transport ({details['fallback']})"
    )
