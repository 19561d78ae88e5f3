"""Events in, e-mails out: validate an event, record it, and queue its e-mail or fold it into a digest.

Every event is recorded. The first of its type and dedupe key in a coalescing window (10 minutes
by default) is mailed at once to the admin contacts; its repeats are counted and mailed as one
digest when the window ends (`flush_digests`, run by the scheduler). At most `max_mailed_keys`
keys of one type are mailed one by one per window, so even a storm of distinct keys makes a bounded
number of e-mails: per type and window, at most `max_mailed_keys` + 1.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from alertmail.domain.events import (
    Digest,
    Event,
    EventCatalog,
    EventRecorded,
    EventType,
    RenderedMail,
    StoredEvent,
    validate_dedupe_key,
    validate_details,
)
from alertmail.domain.outbox import OutboxMessage, RetryPolicy, new_outbox_message
from alertmail.domain.ports import EventRenderer, EventRepository, SettingsRepository
from alertmail.domain.schedule import AlreadyClaimedError, RunClaim
from alertmail.domain.settings import MailSettings
from alertmail.services.clock import Clock, utc_now
from alertmail.services.event_recipients import EventRecipients, Recipients

__all__ = ["CoalescingOptions", "NotificationService"]


@dataclass(frozen=True)
class CoalescingOptions:
    window: timedelta = timedelta(minutes=10)
    max_mailed_keys: int = 10  # per type and window; the rest wait for the digest


class NotificationService:
    def __init__(
        self,
        catalog: EventCatalog,
        renderer: EventRenderer,
        events: EventRepository,
        settings: SettingsRepository,
        *,
        policy: RetryPolicy,
        node: str = "",
        coalescing: CoalescingOptions | None = None,
        on_queued: Callable[[], None] | None = None,
        on_received: Callable[[str], None] | None = None,
        recipients: EventRecipients | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._catalog = catalog
        self._renderer = renderer
        self._events = events
        self._settings = settings
        self._policy = policy
        self._node = node
        self._coalescing = coalescing or CoalescingOptions()
        self._on_queued = on_queued
        self._on_received = on_received
        self._recipients = recipients
        self._clock = clock

    @property
    def catalog(self) -> EventCatalog:
        return self._catalog

    async def raise_event(
        self,
        event_type: str,
        details: Mapping[str, Any] | None = None,
        *,
        dedupe_key: str | None = None,
        source: str = "api",
    ) -> EventRecorded:
        """Record an event and queue what it causes; it is accepted once this returns.

        Raises `UnknownEventTypeError` (the known types listed) or `SettingsValidationError`
        (each bad detail named) before anything is written.
        """
        return await self._raise(event_type, details, dedupe_key=dedupe_key, source=source, claim=None)

    async def raise_once(
        self,
        claim: RunClaim,
        event_type: str,
        details: Mapping[str, Any] | None = None,
        *,
        dedupe_key: str | None = None,
        source: str = "scheduler",
    ) -> EventRecorded | None:
        """Raise the event unless `claim`'s job already ran for its period: None then, nothing written.

        The claim, the event and its e-mail commit in one transaction: a failure anywhere leaves
        none of them, so the next attempt is not mistaken for a repeat.
        """
        try:
            return await self._raise(event_type, details, dedupe_key=dedupe_key, source=source, claim=claim)
        except AlreadyClaimedError:
            return None

    async def _raise(
        self,
        event_type: str,
        details: Mapping[str, Any] | None,
        *,
        dedupe_key: str | None,
        source: str,
        claim: RunClaim | None,
    ) -> EventRecorded:
        kind = self._catalog.get(event_type)
        event = Event(
            id=str(uuid.uuid4()),
            event_type=kind.name,
            details=validate_details(details),
            dedupe_key=validate_dedupe_key(dedupe_key),
            source=source,
            received_at=self._clock(),
            node=self._node,
        )
        settings = (await self._settings.load()).settings
        to = await self.recipients(settings)
        recorded = await self._events.record(
            event,
            window=self._coalescing.window,
            max_mailed_keys=self._coalescing.max_mailed_keys,
            make_message=lambda: self._message_for(kind, event, settings, to.addresses),
            claim=claim,
        )
        if to.source == "administrators" and recorded.disposition == "mailed" and self._recipients:
            await self._recipients.log_fallback(settings, to, kind.name)
        if self._on_received is not None:
            self._on_received(kind.name)
        if recorded.outbox_id is not None and self._on_queued is not None:
            self._on_queued()
        return recorded

    async def flush_digests(self) -> int:
        """Queue the digests of every window that has ended; how many were queued."""
        settings = (await self._settings.load()).settings
        to = (await self.recipients(settings)).addresses
        queued = await self._events.take_due_digests(
            self._clock(), lambda d: self._digest_for(d, settings, to)
        )
        if queued and self._on_queued is not None:
            self._on_queued()
        return queued

    def preview(self, event_type: str, details: Mapping[str, Any] | None = None) -> RenderedMail:
        """The e-mail an event of this type would make, with the type's example details by default."""
        kind = self._catalog.get(event_type)
        sample = Event(
            id="preview",
            event_type=kind.name,
            details=validate_details(dict(kind.fields) if details is None else details),
            dedupe_key="",
            source="preview",
            received_at=self._clock(),
            node=self._node,
        )
        return self._renderer.render_event(kind, sample)

    def event_types(self) -> list[EventType]:
        return list(self._catalog)

    async def recent(self, *, event_type: str | None = None, limit: int = 100) -> list[StoredEvent]:
        return await self._events.list(event_type=event_type, limit=limit)

    async def recipients(self, settings: MailSettings | None = None) -> Recipients:
        """Whom events are mailed to now: the admin contacts, else the administrators, else nobody."""
        settings = settings or (await self._settings.load()).settings
        if self._recipients is None:
            return Recipients(
                tuple(settings.admin_contacts), "admin_contacts" if settings.admin_contacts else "none"
            )
        return await self._recipients.resolve(settings)

    def _message_for(
        self, kind: EventType, event: Event, settings: MailSettings, to: tuple[str, ...]
    ) -> OutboxMessage | None:
        if not to:
            return None
        mail = self._renderer.render_event(kind, event)
        return self._queued(mail, kind.name, event.dedupe_key, settings, to, source="event")

    def _digest_for(
        self, digest: Digest, settings: MailSettings, to: tuple[str, ...]
    ) -> OutboxMessage | None:
        if not to:
            return None
        kind = self._catalog.get(digest.event_type) if digest.event_type in self._catalog else None
        if kind is None:  # a host type registered by a process that is gone: say it plainly
            kind = EventType(name=digest.event_type, title=digest.event_type, severity="warning", summary="-")
        mail = self._renderer.render_digest(kind, digest)
        return self._queued(mail, kind.name, "", settings, to, source="digest")

    def _queued(
        self,
        mail: RenderedMail,
        event_type: str,
        dedupe_key: str,
        settings: MailSettings,
        to: tuple[str, ...],
        *,
        source: str,
    ) -> OutboxMessage:
        message = new_outbox_message(
            event_type=event_type,
            recipients=list(to),  # one message, every contact a recipient
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
            from_address=settings.from_address,
            now=self._clock(),
            policy=self._policy,
            dedupe_key=dedupe_key,
        )
        return replace(message, source=source)
