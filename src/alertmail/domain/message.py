"""Building the e-mails alertmail sends: Date, a unique Message-ID, From, text and HTML parts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from alertmail.errors import FieldError, SettingsValidationError

__all__ = ["build_message", "new_message_id"]


def new_message_id(from_address: str) -> str:
    """A unique Message-ID in the sender's domain; kept the same across retries by the caller."""
    domain = from_address.rpartition("@")[2] or "alertmail.invalid"
    return make_msgid(idstring="alertmail", domain=domain)


def build_message(
    *,
    from_address: str,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str,
    sent_at: datetime,
    message_id: str | None = None,
) -> EmailMessage:
    """A multipart/alternative message. Refuses CR or LF in a header value rather than fold it."""
    for field, value in (("subject", subject), ("from_address", from_address), *(("to", a) for a in to)):
        if "\r" in value or "\n" in value:
            raise SettingsValidationError([FieldError(field, "must not contain a line break (CR or LF)")])
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(addr_spec=from_address)
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id or new_message_id(from_address)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: keeps auto-responders quiet
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
