"""Access tokens as Microsoft and Google issue them, for the provider stand-in (`provider_fakes`).

Microsoft (Entra ID) access tokens for Exchange Online and Microsoft Graph are JWTs. What they
carry, from Microsoft's "Access token claims reference"
(https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference) and
"Scopes and permissions" (https://learn.microsoft.com/en-us/entra/identity-platform/scopes-oidc):

- `aud`: the resource the token is for. A scope names its resource as a URI prefix
  (`https://outlook.office.com/SMTP.Send`); a scope without one is Microsoft Graph's (`Mail.Send`);
  `{resource}/.default` asks for everything granted to the app on that resource.
- delegated tokens: `scp`, the granted delegated permissions space-separated without the
  resource prefix (`SMTP.Send`); `upn` the signed-in user. App-only tokens: `roles`, a JSON array
  of the Application permissions granted with admin consent, absent when none is; `idtyp: "app"`.
- `appid` (v1 tokens) / `azp` (v2): the client ID; `tid` the tenant; `iss`
  `https://sts.windows.net/{tid}/` (v1); `exp`, `nbf`, `iat` Unix times; `ver` "1.0".
  Exchange Online and Graph take v1 tokens, whose `aud` is the resource URI.

Google's access tokens are opaque (`ya29.` ...). Its token-info endpoint
(`GET https://oauth2.googleapis.com/tokeninfo?access_token=...`, Google Identity's "validate an
access token" call; Google's auth library for Node.js, `getTokenInfo`, POSTs to it with the token
as a Bearer credential instead, and the stand-in takes both) answers 200 with `azp`, `aud` (the
client ID), `sub`, `scope`, `exp` and `expires_in` (as strings), `email`, `email_verified` and
`access_type`; for a token it does not know or that expired, 400 with
`{"error": "invalid_token", "error_description": "Invalid Value"}`. (Written from those answers as
they appear in Google's documentation and public issue threads; values here are examples.)

The signature part is a placeholder: alertmail reads these tokens, never verifies them (the
resource does), and nothing here claims to be a Microsoft key.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GOOGLE_INVALID_TOKEN",
    "GRAPH",
    "GoogleAccessToken",
    "google_token_info",
    "microsoft_access_token",
    "requested_resource",
]

GRAPH = "https://graph.microsoft.com"
OPENID_SCOPES = frozenset({"openid", "offline_access", "email", "profile"})
GOOGLE_INVALID_TOKEN = {"error": "invalid_token", "error_description": "Invalid Value"}


def _b64url_json(data: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode("ascii")


def requested_resource(scope: str) -> tuple[str, list[str]]:
    """The resource a Microsoft scope string asks for, and the permissions named on it."""
    resource, permissions = GRAPH, []
    for item in scope.split():
        if item in OPENID_SCOPES:
            continue
        if item.startswith("https://"):
            resource, _, item = item.rpartition("/")
        permissions.append(item)
    return resource, permissions


def microsoft_access_token(
    *,
    scope: str,
    client_id: str,
    tenant_id: str,
    now: int,
    expires_in: int,
    app_only: bool,
    account: str,
    roles: Sequence[str] = (),
    consented: Sequence[str] | None = None,
) -> str:
    """A v1 access token for the resource `scope` names. `roles`: the Application permissions
    granted to the app (app-only); `consented`: the delegated permissions the user consented to
    (None: whatever was asked for)."""
    resource, asked = requested_resource(scope)
    claims: dict[str, Any] = {
        "aud": resource,
        "iss": f"https://sts.windows.net/{tenant_id}/",
        "iat": now, "nbf": now, "exp": now + expires_in,
        "appid": client_id,
        "tid": tenant_id,
        "ver": "1.0",
    }  # fmt: skip
    if app_only:
        claims["idtyp"] = "app"
        if roles:
            claims["roles"] = list(roles)
    else:
        granted = [p for p in asked if p != ".default"] if consented is None else list(consented)
        claims |= {"scp": " ".join(granted), "upn": account}
    header = {"typ": "JWT", "alg": "RS256", "kid": "provider-fake"}
    return f"{_b64url_json(header)}.{_b64url_json(claims)}.bm90LXNpZ25lZA"


@dataclass(frozen=True)
class GoogleAccessToken:
    """What the stand-in remembers of an opaque Google access token it issued."""

    client_id: str
    scope: str
    expires_at: int
    account: str


def google_token_info(token: GoogleAccessToken, now: int) -> dict[str, str]:
    """Google's token-info body for a live token (every value a string, as Google sends them)."""
    return {
        "azp": token.client_id,
        "aud": token.client_id,
        "sub": "110248495921238986420",
        "scope": token.scope,
        "exp": str(token.expires_at),
        "expires_in": str(max(token.expires_at - now, 0)),
        "email": token.account,
        "email_verified": "true",
        "access_type": "offline",
    }
