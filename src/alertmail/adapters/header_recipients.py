"""The recipients a message's headers name, made to be exactly the envelope's.

`sendmail -t`, Microsoft Graph's MIME `sendMail` and the Gmail API all deliver to the addresses in
To, Cc and Bcc. Recipients the headers do not name are added as Bcc; a header naming an address
outside the recipients is refused, since it would be delivered to as well.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import getaddresses

__all__ = ["addressed_to"]

_RECIPIENT_HEADERS = ("To", "Cc", "Bcc")


def addressed_to(message: EmailMessage, recipients: Sequence[str]) -> EmailMessage:
    """The message with headers naming exactly `recipients`, as `sendmail -t` reads them."""
    named = [address for _, address in getaddresses(_header_values(message)) if address]
    wanted = {recipient.lower() for recipient in recipients}
    strangers = sorted({address for address in named if address.lower() not in wanted})
    if strangers:
        raise ValueError(
            "the message headers name addresses that are not recipients, and they "
            f"would be delivered to as well: {', '.join(strangers)}"
        )
    known = {address.lower() for address in named}
    missing = [recipient for recipient in recipients if recipient.lower() not in known]
    if not missing:
        return message
    addressed = copy.deepcopy(message)  # the caller's message stays as it was
    bcc = [str(value) for value in addressed.get_all("Bcc", [])]
    del addressed["Bcc"]
    addressed["Bcc"] = ", ".join([*bcc, *missing])
    return addressed


def _header_values(message: EmailMessage) -> list[str]:
    return [str(value) for name in _RECIPIENT_HEADERS for value in message.get_all(name, [])]
