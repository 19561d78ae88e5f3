"""What goes on the wire for one message: the envelope and the bytes, fitted to what the relay
offers (SMTPUTF8, 8BITMIME).

aiosmtplib's `send_message` decides on SMTPUTF8 from the envelope alone and would write a header
address with an international domain as an RFC 2047 word (`ops@=?utf-8?q?b=C3=BCcher?=.example`),
which is no address at all. So the message is flattened here: in UTF-8 (RFC 6532) when the relay
offers SMTPUTF8 and an address needs it, otherwise with every domain in IDNA form.

The bytes are aiosmtplib's (`flatten_message`: the SMTP policy, Bcc dropped), but each header is
parsed once: the standard policy parses a header again on every read, and writing a two-part
message reads its Content-Types a dozen times, which was about half of the CPU a message costs
(bench/drain.py; tests/unit/test_wire_bytes.py holds the bytes to aiosmtplib's).
"""

from __future__ import annotations

import copy
import functools
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.policy import SMTP, EmailPolicy
from typing import Any

from aiosmtplib.email import flatten_message

from alertmail.domain.international_addresses import ascii_address, ascii_address_headers, needs_smtputf8

__all__ = ["WireMessage", "flatten", "wire_message"]


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
    data = flatten(message, utf8=utf8, cte_type="8bit" if eight_bit_mime else "7bit")
    return WireMessage(sender, list(recipients), data, options)


def flatten(message: Message, *, utf8: bool, cte_type: str) -> bytes:
    """What `aiosmtplib.email.flatten_message` writes for `message`, with fewer header parses."""
    if not isinstance(message, EmailMessage):
        return flatten_message(message, utf8=utf8, cte_type=cte_type)  # compat32 parses nothing
    written = copy.copy(message)  # a shallow copy, as aiosmtplib's: the Bcc go from it alone
    del written["Bcc"]
    del written["Resent-Bcc"]
    with io.BytesIO() as data:
        BytesGenerator(data, policy=_POLICIES[utf8, cte_type]).flatten(written)
        return data.getvalue()


class _ParsedOnce(EmailPolicy):
    """The SMTP policy, reading each stored header value through one parse, kept for later reads."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):
            return value  # already a header object
        # By the header registry, not by the policy: the generator clones the policy for each part.
        return _parsed(self.header_factory, name, value)


@functools.lru_cache(maxsize=256)
def _parsed(registry: Callable[[str, str], Any], name: str, value: str) -> Any:
    # As EmailPolicy.header_fetch_parse: folds undone, then parsed. Header objects are immutable,
    # so one may answer every read of the same value.
    return registry(name, _LINE_BREAK.sub("", value))


_LINE_BREAK = re.compile(r"\n|\r")  # email.policy's `linesep_splitter`
# aiosmtplib's choice: email.policy.SMTP or SMTPUTF8, cloned to a 7-bit transfer encoding.
_SMTP = _ParsedOnce(linesep=SMTP.linesep)
_POLICIES = {
    (utf8, cte): _SMTP.clone(utf8=utf8, cte_type=cte) for utf8 in (False, True) for cte in ("7bit", "8bit")
}
