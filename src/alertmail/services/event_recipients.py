"""Who an event's e-mail goes to: the admin contacts, else the administrators' own addresses.

An appliance raises events before anyone has filled in Admin Contacts. Rather than record them
as mailed to nobody, those e-mails go to every administrator who has an e-mail address, and Mail
Server Logs says so (so the administrators learn why, and where to set contacts). With neither,
the event is still recorded (`no_recipients`) and `/healthz`, the web UI and `alertmail outbox`
warn that events reach nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from alertmail.domain.ports import AdministratorRepository
from alertmail.domain.records import MailLogEntry
from alertmail.domain.settings import MailSettings, settings_snapshot
from alertmail.services.clock import Clock, utc_now
from alertmail.services.sending import MailSendingService

__all__ = ["NO_RECIPIENTS_WARNING", "EventRecipients", "Recipients", "RecipientsSource"]

RecipientsSource = Literal["admin_contacts", "administrators", "none"]

NO_RECIPIENTS_WARNING = (
    "Events reach nobody: no Admin Contact is set (Mail Settings) and no administrator has an e-mail"
    " address. They are recorded, not mailed."
)


@dataclass(frozen=True)
class Recipients:
    addresses: tuple[str, ...]
    source: RecipientsSource


class EventRecipients:
    def __init__(
        self, administrators: AdministratorRepository, sending: MailSendingService, *, clock: Clock = utc_now
    ) -> None:
        self._administrators = administrators
        self._sending = sending
        self._clock = clock

    async def resolve(self, settings: MailSettings) -> Recipients:
        if settings.admin_contacts:
            return Recipients(tuple(settings.admin_contacts), "admin_contacts")
        own = dict.fromkeys(a.email for a in await self._administrators.list() if a.email)
        return Recipients(tuple(own), "administrators" if own else "none")

    async def log_fallback(self, settings: MailSettings, recipients: Recipients, event_type: str) -> None:
        """Say in Mail Server Logs that an event went to the administrators, and why."""
        await self._sending.record(
            MailLogEntry(
                registered_at=self._clock(),
                auth_type=settings.auth_type,
                status="warning",
                category="no_admin_contacts",
                retryable=False,
                message=(
                    f"No Admin Contact is set: the {event_type} e-mail went to the administrators'"
                    f" own addresses ({', '.join(recipients.addresses)})"
                ),
                hint="Add the addresses that should receive alerts under Admin Contacts in Mail Settings.",
                settings_snapshot=settings_snapshot(settings),
                context=f"event {event_type}",
            )
        )
