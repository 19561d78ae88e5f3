"""Events in, e-mails out: validate an event, record it, and queue its e-mail or fold it into a digest.

Every event is recorded. The first of its type and dedupe key in a coalescing window (10 minutes
by default) is mailed at once to the admin contacts; its repeats are counted and mailed as one
digest when the window ends (`flush_digests`, run by the scheduler). At most `max_mailed_keys`
keys of one type are mailed one by one per window, so even a storm of distinct keys makes a bounded
number of e-mails: per type and window, at most `max_mailed_keys` + 1.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from alertmail.domain.delivery_report import KeysetPage, PageCursor
from alertmail.domain.events import (
    Digest,
    DigestWindow,
    Event,
    EventCatalog,
    EventRecorded,
    EventType,
    RenderedMail,
    StoredEvent,
    TemplateFailure,
    validate_dedupe_key,
    validate_details,
)
from alertmail.domain.fallback import TransportSwitch
from alertmail.domain.outbox import OutboxMessage, RetryPolicy, new_outbox_message
from alertmail.domain.ports import EventRenderer, EventRepository, SettingsRepository
from alertmail.domain.records import MailLogEntry
from alertmail.domain.schedule import AlreadyClaimedError, RunClaim
from alertmail.domain.settings import MailSettings, settings_snapshot
from alertmail.services.clock import Clock, utc_now
from alertmail.services.event_recipients import EventRecipients, Recipients
from alertmail.services.group_commit import GroupCommit

__all__ = ["CoalescingOptions", "NotificationService"]

logger = logging.getLogger(__name__)

MailLogRecorder = Callable[[MailLogEntry], Awaitable[object]]


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
        mail_log: MailLogRecorder | None = None,  # where a custom template's failure is reported
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
        self._mail_log = mail_log
        self._recipients = recipients
        self._clock = clock
        # One writer per process: concurrent events share a transaction (see group_commit.py).
        self._intake: GroupCommit[Event, EventRecorded] = GroupCommit(self._record_batch)

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
        return await self.record(self.new_event(event_type, details, dedupe_key=dedupe_key, source=source))

    def new_event(
        self,
        event_type: str,
        details: Mapping[str, Any] | None = None,
        *,
        dedupe_key: str | None = None,
        source: str = "api",
    ) -> Event:
        """The event checked and stamped (id, time, node), not recorded yet: `raise_event`'s first
        half, which raises its errors; nothing is written."""
        kind = self._catalog.get(event_type)
        return Event(
            id=str(uuid.uuid4()),
            event_type=kind.name,
            details=validate_details(details),
            dedupe_key=validate_dedupe_key(dedupe_key),
            source=source,
            received_at=self._clock(),
            node=self._node,
        )

    async def record(self, event: Event) -> EventRecorded:
        """`raise_event`'s second half: record an event from `new_event` with whatever else is
        being recorded (group commit); it is accepted once this returns."""
        return await self._intake.submit(event)

    async def raise_once(
        self,
        claim: RunClaim | TransportSwitch,
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
        event = self.new_event(event_type, details, dedupe_key=dedupe_key, source=source)
        try:
            # The claim commits with its event, so the event is recorded alone, not batched.
            (recorded,) = await self._record_batch([event], claim=claim)
        except AlreadyClaimedError:
            return None
        return recorded

    async def _record_batch(
        self, events: Sequence[Event], *, claim: RunClaim | TransportSwitch | None = None
    ) -> list[EventRecorded]:
        failures: list[TemplateFailure] = []
        used: list[tuple[MailSettings, Recipients]] = []  # what the batch's e-mails were made with
        recorded = await self._events.record_many(
            events,
            window=self._coalescing.window,
            max_mailed_keys=self._coalescing.max_mailed_keys,
            make_messages=lambda mailed: self._messages_for(mailed, failures, used),
            claim=claim,
        )
        if failures:
            settings = (await self._settings.load()).settings
            await self._report(failures, settings, context=_batch_context(events))
        if used:
            await self._log_fallback(*used[0], events, recorded)
        if self._on_received is not None:
            for event in events:
                self._on_received(event.event_type)
        if self._on_queued is not None and any(r.outbox_id is not None for r in recorded):
            self._on_queued()
        return recorded

    async def flush_digests(self) -> int:
        """Queue the digests of every window that has ended; how many were queued."""
        settings = (await self._settings.load()).settings
        failures: list[TemplateFailure] = []
        to = (await self.recipients(settings)).addresses
        queued = await self._events.take_due_digests(
            self._clock(), lambda d: self._digest_for(d, settings, to, failures)
        )
        await self._report(failures, settings, context="digest")
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

    def check_templates(self) -> list[TemplateFailure]:
        """Every custom template that fails to render an example event or digest of its type."""
        if not self._renderer.custom_templates():
            return []  # nothing rendered: the package's own templates are tested with it
        now = self._clock()
        failures: list[TemplateFailure] = []
        for kind in self._catalog:
            mail = self.preview(kind.name)
            window = DigestWindow(
                dedupe_key="example", coalesced=2, first_at=now, last_at=now, details=kind.fields
            )
            digest = Digest(kind.name, now, now, windows=(window,), more_windows=0, total=2)
            failures += [
                *mail.template_failures,
                *self._renderer.render_digest(kind, digest).template_failures,
            ]
        return list(dict.fromkeys(failures))

    async def check_templates_at_start(self) -> list[TemplateFailure]:
        """Check the templates and report each failure, so a broken one is known before an event."""
        failures = self.check_templates()
        if failures:
            settings = (await self._settings.load()).settings
            await self._report(failures, settings, context="templates checked at start")
        return failures

    def event_types(self) -> list[EventType]:
        return list(self._catalog)

    async def recent(
        self, *, event_type: str | None = None, limit: int = 100, disposition: str | None = None
    ) -> list[StoredEvent]:
        return await self._events.list(event_type=event_type, limit=limit, disposition=disposition)

    async def page(
        self,
        *,
        event_type: str | None = None,
        disposition: str | None = None,
        before: PageCursor | None = None,
        limit: int = 50,
    ) -> KeysetPage[StoredEvent]:
        """One page of events, newest first, and where the next (older) page starts."""
        size = max(1, limit)
        found = await self._events.list(
            event_type=event_type, disposition=disposition, before=before, limit=size + 1
        )
        return KeysetPage.of(
            found, size, lambda stored: PageCursor(stored.event.received_at, stored.event.id)
        )

    async def recipients(self, settings: MailSettings | None = None) -> Recipients:
        """Whom events are mailed to now: the admin contacts, else the administrators, else nobody."""
        settings = settings or (await self._settings.load()).settings
        if self._recipients is None:
            return Recipients(
                tuple(settings.admin_contacts), "admin_contacts" if settings.admin_contacts else "none"
            )
        return await self._recipients.resolve(settings)

    async def _log_fallback(
        self,
        settings: MailSettings,
        to: Recipients,
        events: Sequence[Event],
        recorded: Sequence[EventRecorded],
    ) -> None:
        """Mail Server Logs say which mailed events went to the administrators, and why."""
        if to.source != "administrators" or self._recipients is None:
            return
        for event, outcome in zip(events, recorded, strict=True):
            if outcome.disposition == "mailed":
                await self._recipients.log_fallback(settings, to, event.event_type)

    async def _messages_for(
        self,
        events: list[Event],
        failures: list[TemplateFailure],
        used: list[tuple[MailSettings, Recipients]],
    ) -> list[OutboxMessage | None]:
        settings = (await self._settings.load()).settings
        to = await self.recipients(settings)
        used.append((settings, to))
        return [self._message_for(event, settings, to.addresses, failures) for event in events]

    def _message_for(
        self, event: Event, settings: MailSettings, to: tuple[str, ...], failures: list[TemplateFailure]
    ) -> OutboxMessage | None:
        if not to:
            return None
        kind = self._catalog.get(event.event_type)
        mail = self._renderer.render_event(kind, event)
        failures.extend(mail.template_failures)
        return self._queued(mail, kind.name, event.dedupe_key, settings, to, source="event")

    def _digest_for(
        self,
        digest: Digest,
        settings: MailSettings,
        to: tuple[str, ...],
        failures: list[TemplateFailure],
    ) -> OutboxMessage | None:
        if not to:
            return None
        kind = self._catalog.get(digest.event_type) if digest.event_type in self._catalog else None
        if kind is None:  # a host type registered by a process that is gone: say it plainly
            kind = EventType(name=digest.event_type, title=digest.event_type, severity="warning", summary="-")
        mail = self._renderer.render_digest(kind, digest)
        failures.extend(mail.template_failures)
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

    async def _report(self, failures: list[TemplateFailure], settings: MailSettings, *, context: str) -> None:
        """Each custom template that failed: a warning, and an entry in Mail Server Logs."""
        for failure in dict.fromkeys(failures):
            logger.warning(
                "the custom template %s failed (%s): the built-in one was used",
                failure.template,
                failure.error,
            )
            if self._mail_log is None:
                continue
            await self._mail_log(template_failure_entry(failure, settings, self._clock(), context=context))


def template_failure_entry(
    failure: TemplateFailure, settings: MailSettings, now: datetime, *, context: str
) -> MailLogEntry:
    return MailLogEntry(
        registered_at=now,
        auth_type=settings.auth_type,
        status="error",
        category="template",
        retryable=False,
        message=f"The custom template {failure.template} failed: {failure.error}."
        " The built-in template was used.",
        hint="Fix or remove the template under the data directory's templates/; "
        "`alertmail events templates check` shows every template error.",
        settings_snapshot=settings_snapshot(settings),
        detail=failure.error,
        context=context,
    )


def _batch_context(events: Sequence[Event]) -> str:
    """What a template failure happened for, in Mail Server Logs."""
    if len(events) == 1:
        return f"event {events[0].id} ({events[0].event_type})"
    return f"a batch of {len(events)} events"
