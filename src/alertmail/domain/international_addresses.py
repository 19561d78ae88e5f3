"""Addresses as the relay can take them (RFC 6531/6532 and their absence).

With SMTPUTF8 a relay takes internationalized addresses as they are, in the envelope and in the
headers (RFC 6532). Without it, a domain goes out in its IDNA form (`xn--bcher-kva.example`) and
an address whose local part is not ASCII cannot be sent at all: it is refused by name, rather than
written as an RFC 2047 encoded word, which no address may contain.
"""

from __future__ import annotations

from email.message import Message
from email.utils import formataddr, getaddresses

import idna

__all__ = [
    "ADDRESS_HEADERS",
    "UnsendableAddressError",
    "ascii_address",
    "ascii_address_headers",
    "needs_smtputf8",
]

ADDRESS_HEADERS = ("From", "Sender", "Reply-To", "To", "Cc", "Resent-From", "Resent-To", "Resent-Cc")


class UnsendableAddressError(ValueError):
    """An address that needs SMTPUTF8, sent through a relay without it."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(
            f"the address {address!r} has a non-ASCII local part (or a domain with no IDNA form),"
            " which needs SMTPUTF8; the relay does not offer SMTPUTF8"
        )


def needs_smtputf8(addresses: list[str], message: Message) -> bool:
    """Whether any envelope or header address (not display name) is not plain ASCII."""
    if not all(address.isascii() for address in addresses):
        return True
    values = [str(value) for name in ADDRESS_HEADERS for value in message.get_all(name, [])]
    if all(value.isascii() for value in values):
        return False  # the usual case, without parsing: no address of an ASCII header can need it
    return not all(address.isascii() for _, address in getaddresses(values))


def ascii_address(address: str) -> str:
    """`address` with its domain in IDNA form, or `UnsendableAddressError` for a non-ASCII local part."""
    if address.isascii():
        return address
    local, at, domain = address.rpartition("@")
    if not at or not local.isascii():
        raise UnsendableAddressError(address)
    try:
        ascii_domain = idna.encode(domain.rstrip("."), uts46=True).decode("ascii")
    except idna.IDNAError:
        raise UnsendableAddressError(address) from None
    return f"{local}@{ascii_domain}"


def ascii_address_headers(message: Message) -> None:
    """Rewrite each address header that is not ASCII: domains in IDNA form, display names kept
    (encoded as RFC 2047 words, where they belong); a non-ASCII local part is refused."""
    for name in ADDRESS_HEADERS:
        values = [str(value) for value in message.get_all(name, [])]
        if all(value.isascii() for value in values):
            continue
        pairs = [(display, ascii_address(address)) for display, address in getaddresses(values) if address]
        del message[name]
        message[name] = ", ".join(formataddr(pair, charset="utf-8") for pair in pairs)
