"""Messages that local programs submit (`alertmail sendmail`, the loopback SMTP listener).

Two moments, both pure:
- accepting: `prepare_submission` reads the program's message, settles its recipients (given, and
  with `-t` read from To/Cc/Bcc), removes Bcc and adds the Date and Message-ID it lacks, so that
  what is stored is what will be sent, with a Message-ID that stays the same on every attempt;
- sending: `prepare_for_relay` puts the configured From address on it right before it goes out,
  because relays such as Microsoft 365 refuse any other sender (SendAsDenied), and keeps the
  program's own From in Reply-To so that replies still reach it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, message_from_string
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from typing import Literal

from alertmail.domain.addresses import AddressError, normalize_address
from alertmail.domain.header_safety import decoded_text, single_line, unsafe_header
from alertmail.domain.line_length import MAX_LINE_OCTETS, longest_line, shorten_body_lines
from alertmail.domain.message import new_message_id
from alertmail.errors import AlertmailError

__all__ = [
    "LOCAL_SUBMISSION_EVENT_TYPE",
    "InvalidMessageError",
    "InvalidRecipientError",
    "MessageTooLargeError",
    "NoRecipientsError",
    "Submission",
    "SubmissionError",
    "SubmissionSource",
    "TooLargeForApiError",
    "prepare_for_relay",
    "prepare_submission",
    "valid_recipient",
]

SubmissionSource = Literal["sendmail", "smtp-listener"]
LOCAL_SUBMISSION_EVENT_TYPE = "local_submission"
_RECIPIENT_HEADERS = ("To", "Cc", "Bcc")
_BLIND_HEADERS = ("Bcc", "Resent-Bcc")
_REFOLD_ALL = default_policy.clone(refold_source="all")
_COMMENT_NAME = re.compile(r"^[^()]*\(([^()]+)\)\s*$")


class SubmissionError(AlertmailError, ValueError):
    """A local program's message was refused; nothing was queued. The text says what is wrong."""

    category = "submission"


class NoRecipientsError(SubmissionError):
    pass


class InvalidRecipientError(SubmissionError):
    def __init__(self, address: str, reason: str, *, header: str = "") -> None:
        self.address = address
        self.reason = reason
        where = f" (in the header {header!r})" if header else ""
        super().__init__(f"{address!r} is not a valid recipient{where}: {reason}")


class InvalidMessageError(SubmissionError):
    pass


class MessageTooLargeError(InvalidMessageError):
    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"the message is larger than the limit of {limit} bytes")


class TooLargeForApiError(InvalidMessageError):
    """The E-mail Type's API would refuse a message this large (Microsoft Graph: about 4 MB encoded)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)


@dataclass(frozen=True)
class Submission:
    """A submitted message ready to queue: Bcc removed, Date and Message-ID present."""

    raw: str  # the full message text, as it is stored and will be sent
    recipients: tuple[str, ...]
    message_id: str
    subject: str


def prepare_submission(
    raw: bytes,
    *,
    recipients: Sequence[str],
    recipients_from_headers: bool,
    envelope_from: str | None,
    full_name: str = "",
    from_address: str,
    now: datetime,
) -> Submission:
    """Check and complete a submitted message, or raise a `SubmissionError` naming the problem.

    `recipients` are the envelope's (sendmail's arguments, SMTP's RCPT TO); with
    `recipients_from_headers` (sendmail -t) To, Cc and Bcc are added to them. `envelope_from` and
    `full_name` (sendmail -f and -F) make the From header when the message has none, as sendmail
    does; the relay's envelope sender is the configured `from_address` either way.
    """
    message = _parse(raw)
    _refuse_broken_headers(message)
    found = list(recipients)
    if recipients_from_headers:
        found += _header_addresses(message, _RECIPIENT_HEADERS)
    settled = _settle_recipients(found)
    for name in _BLIND_HEADERS:
        del message[name]
    _complete_headers(message, envelope_from, full_name, from_address, now)
    shorten_body_lines(message)
    return Submission(
        raw=_fitting(_text(message)),
        recipients=settled,
        message_id=str(message["Message-ID"]).strip(),
        subject=str(message.get("Subject", "")),
    )


def valid_recipient(address: str) -> str:
    """The address, normalized (domain in lower case), or `InvalidRecipientError` saying why."""
    candidate = address.strip()
    if candidate.startswith("<") and candidate.endswith(">"):
        candidate = candidate[1:-1].strip()
    if not candidate:
        raise InvalidRecipientError(address, "it is empty")
    if "@" not in candidate:
        raise InvalidRecipientError(
            address,
            "it has no @domain; alertmail sends through the relay, which cannot deliver to a local user name",
        )
    try:
        return normalize_address(candidate)
    except AddressError as exc:
        raise InvalidRecipientError(address, str(exc)) from None


def prepare_for_relay(raw: str, from_address: str) -> EmailMessage:
    """The stored message as the relay must see it: From is the configured `from_address`.

    A From with another address is replaced (its display name kept, e.g. `cron <from_address>`)
    and, when the message has no Reply-To, kept there so replies reach whoever wrote it. Message-ID
    and every other header stay as they are.
    """
    if not from_address or "@" not in from_address:
        raise ValueError(f"from_address must be an e-mail address, not {from_address!r}")
    # Read as text for the names in From (8-bit UTF-8 in a header reads as it was written), but
    # built from bytes for sending: only a message parsed from bytes can be written back as bytes
    # when a body holds 8-bit text, and then it goes out byte for byte as the program wrote it.
    readable = message_from_string(raw, policy=default_policy)
    message = message_from_bytes(raw.encode("utf-8"), policy=default_policy)
    original = _from_addresses(readable)
    if len(original) == 1 and original[0].addr_spec.lower() == from_address.lower():
        return message
    sender = Address(display_name=_sender_name(readable, original), addr_spec=from_address)
    if sum(name.lower() == "from" for name, _ in message.raw_items()) == 1:
        message.replace_header("From", sender)  # in place: the header order stays the program's
    else:
        del message["From"]
        message["From"] = sender
    reply_to = [
        Address(single_line(address.display_name), address.username, address.domain)
        for address in original
        if address.domain
    ]
    if reply_to and "Reply-To" not in message:
        message["Reply-To"] = reply_to
    return message


# --- reading and completing ----------------------------------------------------------------------


def _parse(raw: bytes) -> EmailMessage:
    if not raw.strip():
        raise InvalidMessageError("the message is empty")
    if b"\x00" in raw:  # RFC 5322 forbids it, and PostgreSQL cannot store it in text
        raise InvalidMessageError("the message contains a NUL byte (0x00), which e-mail does not allow")
    try:
        # UTF-8 (ASCII included) is read as text, so that 8-bit UTF-8 text keeps its meaning;
        # anything else goes through the bytes parser, which re-encodes 8-bit parts that declare
        # their charset and marks the rest unknown-8bit.
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return message_from_bytes(raw, policy=default_policy)
    return message_from_string(text, policy=default_policy)


def _fitting(text: str) -> str:
    """The message text, if every line fits RFC 5322's 998 octets (bodies were re-encoded)."""
    if longest_line(text) > MAX_LINE_OCTETS:
        raise InvalidMessageError(
            f"a header line is longer than {MAX_LINE_OCTETS} octets and cannot be folded shorter"
        )
    return text


def _refuse_broken_headers(message: EmailMessage) -> None:
    unsafe = unsafe_header(message)
    if unsafe is not None:
        name, character = unsafe
        raise InvalidMessageError(
            f"the header {name!r} holds a line break or NUL ({character}) once decoded,"
            " which could add header lines nobody wrote"
        )


def _text(message: EmailMessage) -> str:
    # Headers in 8-bit UTF-8 (allowed only with SMTPUTF8) are written as RFC 2047 encoded words,
    # which every relay takes; other headers stay exactly as the program wrote them.
    eight_bit = any(not str(value).isascii() for _, value in message.raw_items())
    try:
        text = message.as_string(policy=_REFOLD_ALL if eight_bit else default_policy)
    except (ValueError, TypeError, LookupError) as exc:  # a header the email package cannot write
        raise InvalidMessageError(f"the message cannot be written back as an e-mail ({exc})") from exc
    # Undeclared 8-bit bytes that were not UTF-8 cannot be stored as text: they become U+FFFD.
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _header_addresses(message: EmailMessage, names: Iterable[str]) -> list[str]:
    """The addresses of the named headers, each valid; group syntax (`undisclosed:;`) gives none.

    A bad one is named with the header as the program wrote it, since the parser's reading of a
    malformed header (`lead@@example.com` reads as `<>`) would only puzzle.
    """
    found: list[str] = []
    for name in names:
        written = [value for key, value in message.raw_items() if key.lower() == name.lower()]
        for raw_value, header in zip(written, message.get_all(name, []), strict=True):
            for address in getattr(header, "addresses", ()):
                try:
                    found.append(valid_recipient(address.addr_spec))
                except InvalidRecipientError as exc:
                    as_written = f"{name}: {' '.join(str(raw_value).split())}"
                    raise InvalidRecipientError(exc.address, exc.reason, header=as_written) from None
    return found


def _settle_recipients(addresses: Sequence[str]) -> tuple[str, ...]:
    """Each address validated, duplicates (ignoring case) dropped, the order kept."""
    settled: dict[str, str] = {}
    for address in addresses:
        valid = valid_recipient(address)
        settled.setdefault(valid.lower(), valid)
    if not settled:
        raise NoRecipientsError("the message has no recipients")
    return tuple(settled.values())


def _complete_headers(
    message: EmailMessage, envelope_from: str | None, full_name: str, from_address: str, now: datetime
) -> None:
    if "From" not in message:
        sender = _strip_brackets(envelope_from or "")
        sender = sender if "@" in sender else from_address  # `-f root` names no mailbox
        if sender:
            message["From"] = _address(full_name, sender)
    if "Date" not in message:
        message["Date"] = format_datetime(now)
    if not str(message.get("Message-ID", "")).strip():
        del message["Message-ID"]
        message["Message-ID"] = new_message_id(from_address or _first_from_address(message))


def _address(display_name: str, addr_spec: str) -> Address:
    try:
        return Address(display_name=display_name, addr_spec=addr_spec)
    except (ValueError, HeaderParseError) as exc:  # InvalidHeaderDefect is a ValueError
        raise InvalidMessageError(
            f"cannot make a From header of {display_name!r} <{addr_spec}>: {exc}"
        ) from None


def _from_addresses(message: EmailMessage) -> list[Address]:
    try:
        header = message.get("From")
    except ValueError:  # a name that decodes to a line break, in a message stored before the check
        return []
    return list(getattr(header, "addresses", ())) if header is not None else []


def _sender_name(message: EmailMessage, addresses: Sequence[Address]) -> str:
    # One line whatever was stored: a name that held a line break would add header lines.
    if addresses and addresses[0].display_name:
        return single_line(addresses[0].display_name)
    # The old form `From: root (Cron Daemon)`, which cron still writes, names the sender in a comment.
    for name, value in message.raw_items():
        if name.lower() == "from":
            match = _COMMENT_NAME.match(str(value))
            return " ".join(single_line(decoded_text(match.group(1))).split()) if match else ""
    return ""


def _first_from_address(message: EmailMessage) -> str:
    addresses = _from_addresses(message)
    return addresses[0].addr_spec if addresses else ""


def _strip_brackets(address: str) -> str:
    return address.strip().removeprefix("<").removesuffix(">").strip()
