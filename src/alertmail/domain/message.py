"""Building the e-mails alertmail sends: Date, a unique Message-ID, From, text and HTML parts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from email.charset import QP, Charset
from email.message import EmailMessage
from email.policy import SMTP, compat32
from email.utils import format_datetime, make_msgid
from typing import Any

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
        if "\r" in value or "\n" in value or "\x00" in value:
            raise SettingsValidationError(
                [FieldError(field, "must not contain a line break (CR or LF) or NUL")]
            )
    # compat32 stores header values as given; the default policies parse each one, which was most
    # of a send's CPU (bench/drain.py). Non-ASCII values become header objects that are encoded
    # (RFC 2047) when the message is flattened. A boundary starting "=_" cannot occur in a
    # quoted-printable body.
    message = EmailMessage(policy=compat32)
    message["From"] = _header("From", from_address)
    message["To"] = _header("To", ", ".join(to))
    message["Subject"] = _header("Subject", subject)
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id or new_message_id(from_address)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: keeps auto-responders quiet
    message["MIME-Version"] = "1.0"
    message["Content-Type"] = f'multipart/alternative; boundary="=_alertmail_{uuid.uuid4().hex}"'
    message.attach(_part(text, "plain"))
    message.attach(_part(html, "html"))
    return message


_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


def _header(name: str, value: str) -> Any:
    return value if value.isascii() else SMTP.header_factory(name, value)


def _part(content: str, subtype: str) -> EmailMessage:
    part = EmailMessage(policy=compat32)
    part.set_payload(content, _UTF8_QP)
    part.replace_header("Content-Type", f'text/{subtype}; charset="utf-8"')
    del part["MIME-Version"]
    return part
