"""Sending one message now, and turning a failure into a classified Mail Server Logs entry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from email.message import EmailMessage

from alertmail.domain.classification import Classification, classify
from alertmail.domain.ports import MailLogFile, MailLogRepository, MailTransport
from alertmail.domain.records import MailLogEntry
from alertmail.domain.settings import MailSettings, settings_snapshot
from alertmail.errors import AlertmailError, TransportError
from alertmail.services.clock import Clock, utc_now

__all__ = ["DeliveryFailedError", "MailSendingService"]


class DeliveryFailedError(AlertmailError):
    """A send failed; `classification` says why and `entry` is what Mail Server Logs recorded."""

    category = "delivery"

    def __init__(self, classification: Classification, entry: MailLogEntry) -> None:
        self.classification = classification
        self.entry = entry
        super().__init__(classification.message)

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.classification.retryable


class MailSendingService:
    """Picks the transport for the configured E-mail Type and records every failure."""

    def __init__(
        self,
        transports: Mapping[str, MailTransport],
        mail_log: MailLogRepository,
        log_file: MailLogFile,
        *,
        node: str = "",
        clock: Clock = utc_now,
    ) -> None:
        self._transports = transports
        self._mail_log = mail_log
        self._log_file = log_file
        self._node = node
        self._clock = clock

    async def send_now(
        self,
        message: EmailMessage,
        recipients: Sequence[str],
        settings: MailSettings,
        *,
        context: str,
        purpose: str = "delivery",
    ) -> None:
        """Deliver or raise `DeliveryFailedError` after the failure has been logged.

        `purpose` is `delivery` for a message alertmail retries, `test` for one nobody retries:
        the hint promises another try only for the first."""
        transport = self._transports[settings.email_type]
        try:
            await transport.send(message, recipients, settings)
        except TransportError as error:
            classification = classify(error, purpose=purpose)
            entry = await self.record_failure(error, classification, settings, context=context)
            raise DeliveryFailedError(classification, entry) from error

    async def record_failure(
        self,
        error: TransportError,
        classification: Classification,
        settings: MailSettings,
        *,
        context: str,
        transport: str = "primary",
    ) -> MailLogEntry:
        """Log a classified failure; `transport` says which one failed ("fallback" is noted)."""
        snapshot = settings_snapshot(settings)
        if transport != "primary":
            snapshot["transport"] = transport
        entry = MailLogEntry(
            registered_at=self._clock(),
            auth_type=settings.auth_type,
            status="error",
            category=classification.category,
            retryable=classification.retryable,
            message=classification.message,
            hint=classification.hint,
            settings_snapshot=snapshot,
            smtp_code=classification.smtp_code,
            enhanced_code=classification.enhanced_code,
            provider_code=classification.provider_code,
            detail=error.detail,
            context=context,
            node=self._node,
            support_details=classification.support_details,
        )
        return await self.record(entry)

    async def record(self, entry: MailLogEntry) -> MailLogEntry:
        """Add an entry to Mail Server Logs (the table and the log file)."""
        if not entry.node:
            entry = replace(entry, node=self._node)
        stored = await self._mail_log.add(entry)
        self._log_file.write(stored)
        return stored
