"""What goes on the wire for one message: the envelope and the bytes, fitted to what the relay
offers (SMTPUTF8, 8BITMIME).

aiosmtplib's `send_message` decides on SMTPUTF8 from the envelope alone and would write a header
address with an international domain as an RFC 2047 word (`ops@=?utf-8?q?b=C3=BCcher?=.example`),
which is no address at all. So the message is flattened here: in UTF-8 (RFC 6532) when the relay
offers SMTPUTF8 and an address needs it, otherwise with every domain in IDNA form.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message

from aiosmtplib.email import flatten_message

from alertmail.domain.international_addresses import ascii_address, ascii_address_headers, needs_smtputf8

__all__ = ["WireMessage", "wire_message"]


@dataclass(frozen=True)
class WireMessage:
    sender: str
    recipients: list[str]
    data: bytes
    mail_options: list[str]


def wire_message(
    message: Message, sender: str, recipients: Sequence[str], *, smtputf8: bool, eight_bit_mime: bool
) -> WireMessage:
    """Raises `UnsendableAddressError` (a ValueError) for a non-ASCII local part without SMTPUTF8."""
    options = ["BODY=8BITMIME"] if eight_bit_mime else []
    utf8 = smtputf8 and needs_smtputf8([sender, *recipients], message)
    if utf8:
        options.append("SMTPUTF8")
    else:
        sender = ascii_address(sender)
        recipients = [ascii_address(recipient) for recipient in recipients]
        if needs_smtputf8([], message):
            message = copy.deepcopy(message)  # the caller's message stays as it was stored
            ascii_address_headers(message)
    data = flatten_message(message, utf8=utf8, cte_type="8bit" if eight_bit_mime else "7bit")
    return WireMessage(sender, list(recipients), data, options)
