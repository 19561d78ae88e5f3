"""E-mail addresses as an appliance on an intranet has them.

`email_validator` refuses special-use domains (`.local`, `.internal`, `.lan`, `.test`, `home.arpa`)
because they are not deliverable on the public Internet. An appliance sends through its own relay,
and many live in a `.local` Active Directory domain, so any syntactically valid domain is accepted
here. Only the two that can never reach a mailbox are refused: `.invalid` (RFC 2606, guaranteed to
fail) and `localhost` (this machine, not a mail domain).
"""

from __future__ import annotations

import re

import idna
from email_validator import EmailNotValidError, validate_email

__all__ = ["AddressError", "normalize_address"]

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
