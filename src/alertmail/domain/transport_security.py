"""Where credentials may travel: the rules that keep a password, a client secret or a token off
the wire in clear.

A relay password goes only over TLS (`tls` or `starttls`) unless the administrator said otherwise
with `allow_plaintext_auth`. Every endpoint alertmail sends a secret to is `https`, except on a
loopback address, where nothing leaves the machine (RFC 8252 section 7.3).
"""

from __future__ import annotations

import ipaddress
from typing import Protocol
from urllib.parse import urlsplit

__all__ = ["endpoint_problem", "is_loopback", "sends_password_in_clear"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class _RelayAuth(Protocol):
    @property
    def email_type(self) -> str: ...
    @property
    def auth_type(self) -> str: ...
    @property
    def encryption(self) -> str: ...


def is_loopback(host: str) -> bool:
    """Whether `host` (an address, or one of the local host names) is this machine's loopback."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback  # ::ffff:127.0.0.1, from a dual-stack socket
    return address.is_loopback


def endpoint_problem(url: str) -> str | None:
    """Why `url` may not receive credentials, or None when it may."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "must be an https:// URL"
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in url):
        return "must be an https:// URL"
    if parts.scheme == "http" and not is_loopback(host):
        return "must be an https:// URL: http:// is allowed only on a loopback address such as 127.0.0.1"
    return None


def sends_password_in_clear(settings: _RelayAuth) -> bool:
    """Whether these relay settings would send the password over an unencrypted connection."""
    return settings.email_type == "smtp" and settings.auth_type == "basic" and settings.encryption == "none"
