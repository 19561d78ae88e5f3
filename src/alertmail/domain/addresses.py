"""E-mail addresses as an appliance on an intranet has them.

`email_validator` refuses special-use domains (`.local`, `.internal`, `.lan`, `.test`, `home.arpa`)
because they are not deliverable on the public Internet. An appliance sends through its own relay,
and many live in a `.local` Active Directory domain, so any syntactically valid domain is accepted
here. Only the two that can never reach a mailbox are refused: `.invalid` (RFC 2606, guaranteed to
fail) and `localhost` (this machine, not a mail domain).

Sending (RFC 6531/6532): with SMTPUTF8 a relay takes internationalized addresses as they are, in
the envelope and in the headers (RFC 6532). Without it, a domain goes out in its IDNA form
(`xn--bcher-kva.example`) and an address whose local part is not ASCII cannot be sent at all: it is
refused by name, rather than written as an RFC 2047 encoded word, which no address may contain.
"""

from __future__ import annotations

import re
from email.message import Message
from email.utils import formataddr, getaddresses

import idna
from email_validator import EmailNotValidError, validate_email

__all__ = [
    "ADDRESS_HEADERS",
    "AddressError",
    "UnsendableAddressError",
    "ascii_address",
    "ascii_address_headers",
    "needs_smtputf8",
    "normalize_address",
]

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# A placeholder domain that email_validator accepts, so it checks only the local part.
_PLACEHOLDER = "example.com"


class AddressError(ValueError):
    """The address is not valid; the message says why, in words for a person."""


def normalize_address(address: str) -> str:
    """`address` with its domain in lower case, or `AddressError` saying what is wrong with it."""
    local, at, domain = address.rpartition("@")
    if not at or not local:
        raise AddressError("An e-mail address must have an @-sign and a part before it.")
    if domain.startswith("["):
        return _with_domain_literal(address)
    return f"{_local_part(local)}@{_domain(domain)}"


def _local_part(local: str) -> str:
    try:
        checked = validate_email(f"{local}@{_PLACEHOLDER}", check_deliverability=False)
    except EmailNotValidError as exc:
        raise AddressError(str(exc)) from None
    return checked.local_part


def _domain(domain: str) -> str:
    if not domain:
        raise AddressError("There must be a domain after the @-sign.")
    try:
        ascii_domain = idna.encode(domain.rstrip(".").lower(), uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise AddressError(f"The part after the @-sign is not a valid domain ({exc}).") from None
    labels = ascii_domain.split(".")
    if len(ascii_domain) > 253 or not all(_LABEL.match(label) for label in labels):
        raise AddressError("The part after the @-sign is not a valid domain name.")
    if labels[-1].isdigit():
        raise AddressError("The part after the @-sign is not a valid domain name.")
    if labels[-1] == "invalid" or labels[-1] == "localhost":
        raise AddressError(
            f"The domain {domain} never receives e-mail (.invalid and localhost are reserved)."
        )
    return idna.decode(ascii_domain)


def _with_domain_literal(address: str) -> str:
    try:
        checked = validate_email(address, check_deliverability=False, allow_domain_literal=True)
    except EmailNotValidError as exc:
        raise AddressError(str(exc)) from None
    return checked.normalized


ADDRESS_HEADERS = ("From", "Sender", "Reply-To", "To", "Cc", "Resent-From", "Resent-To", "Resent-Cc")


class UnsendableAddressError(ValueError):
    """An address that needs SMTPUTF8, sent through a relay without it."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(
            f"the address {address!r} has a non-ASCII local part, which needs SMTPUTF8;"
            " the relay does not offer SMTPUTF8"
        )


def needs_smtputf8(addresses: list[str], message: Message) -> bool:
    """Whether any envelope or header address (not display name) is not plain ASCII."""
    return not all(address.isascii() for address in [*addresses, *_header_addresses(message)])


def ascii_address(address: str) -> str:
    """`address` with its domain in IDNA form, or `UnsendableAddressError` for a non-ASCII local part."""
    if address.isascii():
        return address
    local, at, domain = address.rpartition("@")
    if not at or not local.isascii():
        raise UnsendableAddressError(address)
    try:  # idna, not email_validator: an intranet domain (.local) is fine here too
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


def _header_addresses(message: Message) -> list[str]:
    values = [str(value) for name in ADDRESS_HEADERS for value in message.get_all(name, [])]
    return [address for _, address in getaddresses(values)]
