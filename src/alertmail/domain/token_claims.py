"""What an access token says about itself: its audience, permissions and expiry, for a diagnosis.

Microsoft's access tokens for Exchange Online and Microsoft Graph (work and school accounts) are
JWTs; their payload is read here **without checking the signature**. That is deliberate: the token
came straight from the provider's token endpoint over TLS, nothing is granted on the strength of
what it says, and the resource (Exchange, Graph) checks the signature itself when the token is
used. Verify only explains, before any mail, why that resource would refuse it.

Tokens that are not JWTs (Google's opaque `ya29.` tokens, Microsoft personal-account `EwB...`
tokens, most custom providers') cannot be read here: for Google the token-info endpoint answers
instead (`claims_from_google_token_info`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["TokenClaims", "claims_from_google_token_info", "decode_access_token"]


@dataclass(frozen=True)
class TokenClaims:
    """The claims Verify checks, and where they came from. Never the token itself.

    `delegated` holds the delegated permissions (Microsoft's `scp`, RFC 9068's `scope`, Google's
    token-info `scope`); `roles` the application permissions an app-only token carries.
    """

    source: str  # "jwt" | "google_token_info"
    audiences: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    delegated: tuple[str, ...] = ()
    expires_at: datetime | None = None
    issuer: str = ""
    tenant_id: str = ""
    app_id: str = ""  # Microsoft `appid`/`azp`, Google `azp`: the client the token was issued to
    subject: str = ""  # the signed-in account, when the token names one

    def public(self) -> dict[str, Any]:
        """What the API, CLI and logs may show: claims, not the token."""
        return {
            "source": self.source,
            "audiences": list(self.audiences),
            "roles": list(self.roles),
            "delegated": list(self.delegated),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "issuer": self.issuer,
            "tenant_id": self.tenant_id,
            "app_id": self.app_id,
            "subject": self.subject,
        }


def decode_access_token(token: str) -> TokenClaims | None:
    """The claims of a JWT access token (signature not checked, see above); None for any other."""
    payload = _jwt_payload(token)
    if payload is None:
        return None
    return TokenClaims(
        source="jwt",
        audiences=_strings(payload.get("aud")),
        roles=_strings(payload.get("roles")),
        delegated=_words(payload.get("scp")) + _words(payload.get("scope")),
        expires_at=_moment(payload.get("exp")),
        issuer=_text(payload.get("iss")),
        tenant_id=_text(payload.get("tid")),
        app_id=_text(payload.get("appid") or payload.get("azp") or payload.get("client_id")),
        subject=_text(payload.get("upn") or payload.get("preferred_username") or payload.get("email")),
    )


def claims_from_google_token_info(body: Mapping[str, Any]) -> TokenClaims:
    """Google's token-info answer for an access token: `aud` and `azp` are the client ID, `scope`
    the granted scopes, `exp` a Unix time as a string, `email` the account when `email` was granted."""
    return TokenClaims(
        source="google_token_info",
        audiences=_strings(body.get("aud")),
        delegated=_words(body.get("scope")),
        expires_at=_moment(body.get("exp")),
        issuer="https://accounts.google.com",
        app_id=_text(body.get("azp")),
        subject=_text(body.get("email")),
    )


def _jwt_payload(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3 or not parts[1]:  # a JWS compact serialisation; a JWE (5 parts) is sealed
        return None
    padded = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(str(item) for item in value if isinstance(item, str) and item)
    return ()


def _words(value: Any) -> tuple[str, ...]:
    return tuple(value.split()) if isinstance(value, str) else _strings(value)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _moment(value: Any) -> datetime | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not 0 < seconds < 253402300800:  # year 10000: an absurd `exp` is no expiry at all
        return None
    return datetime.fromtimestamp(seconds, UTC)
