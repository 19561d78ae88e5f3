"""OAuth2 facts that need no network: token records, their health, provider errors, request shape.

A token endpoint's error body is parsed here (`provider_error`), so the adapter that called the
endpoint and the tests that fake one agree on what Microsoft's and Google's bodies mean. Health is a
pure function of the stored tokens, the settings and the time (`token_health`).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import SecretStr

from alertmail.domain.settings import MailSettings
from alertmail.errors import OAuthError

__all__ = [
    "ACCOUNT_CLAIMS",
    "AuthorizationRequest",
    "Grant",
    "OAuthTokens",
    "PendingAuthorization",
    "TokenGrant",
    "TokenHealth",
    "TokenState",
    "account_from_claims",
    "account_mismatch",
    "authorization_params",
    "endpoint_host",
    "id_token_claims",
    "provider_error",
    "request_scopes",
    "settings_changed_since_sign_in",
    "token_health",
]

Grant = Literal["authorization_code", "client_credentials"]
TokenState = Literal["not_authorized", "valid", "expiring", "reauthorization_required"]

AUTHORIZATION_LIFETIME = timedelta(minutes=10)
MICROSOFT_APP_ONLY_SCOPE = "https://outlook.office365.com/.default"

# Claims that name the account that signed in, most specific first (Microsoft, Google, OIDC).
ACCOUNT_CLAIMS = ("email", "preferred_username", "upn", "unique_name", "sub")

# How long a refresh token survives, and from when: Microsoft's rotate on every use and die after
# 90 days unused; Google's die after 6 months unused, or 7 days after issue while the app's
# publishing status is Testing. A custom provider's lifetime is not known.
_MICROSOFT_INACTIVITY = timedelta(days=90)
_GOOGLE_INACTIVITY = timedelta(days=180)
_GOOGLE_TESTING = timedelta(days=7)
_AADSTS = re.compile(r"\b(AADSTS\d+)\b")


@dataclass(frozen=True)
class TokenGrant:
    """What a token endpoint answered. `id_token_claims` are read, not verified: the ID token came
    straight from the token endpoint over TLS (OpenID Connect Core 3.1.3.7), and they are only used
    to warn about a mismatched account, never to grant anything."""

    access_token: SecretStr
    refresh_token: SecretStr | None
    expires_in: float | None
    scope: str = ""
    id_token_claims: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class OAuthTokens:
    """The stored tokens and what is known about their health. Secrets are `SecretStr`."""

    grant: Grant
    access_token: SecretStr
    refresh_token: SecretStr | None
    access_expires_at: datetime | None
    obtained_at: datetime  # when the administrator signed in (or the app-only token was first got)
    client_id: str  # the client and endpoint the tokens belong to: another one cannot use them
    token_endpoint: str
    account: str = ""
    refreshed_at: datetime | None = None
    accepted_at: datetime | None = None  # the relay last accepted an access token
    reauthorization_required: bool = False
    last_error: str = ""
    last_error_code: str = ""
    last_error_at: datetime | None = None
    generation: int = 0  # of the stored row these were read from; bumped by every write of tokens

    @property
    def last_used_at(self) -> datetime:
        """When the refresh token was last used: what the inactivity limits count from."""
        return self.refreshed_at or self.obtained_at


@dataclass(frozen=True)
class TokenHealth:
    """What `alertmail oauth status` and the API show."""

    state: TokenState
    reason: str
    access_expires_at: datetime | None = None
    refresh_risk_at: datetime | None = None  # when the refresh token dies unless used or renewed
    risk: str = ""


@dataclass(frozen=True)
class PendingAuthorization:
    """One sign-in in progress. `state` is the one-time value sent to the provider."""

    state: str
    code_verifier: SecretStr
    administrator: str
    redirect_uri: str
    created_at: datetime
    expires_at: datetime
    status: Literal["pending", "claimed", "succeeded", "failed"] = "pending"
    message: str = ""  # the seed's sentence once finished
    reason: str = ""  # the classified reason and fix of a failure, or an account warning


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the administrator's browser, and the redirect URI to register."""

    authorization_url: str
    redirect_uri: str
    state: str
    expires_at: datetime


# --- requests ---------------------------------------------------------------------------------


def request_scopes(settings: MailSettings, grant: Grant) -> str:
    """The scopes to ask for. App-only Microsoft SMTP sending has its fixed `.default` scope; app-only
    Graph sending the Graph endpoint's (`{graph_endpoint}/.default`, the preset's).

    For Microsoft and Google the sign-in also asks for `openid email`, so the token response names
    the account that signed in and a wrong account is caught before the first send fails.
    """
    if grant == "client_credentials":
        if settings.email_type == "graph":
            return settings.scopes or f"{settings.graph_endpoint}/.default"
        return MICROSOFT_APP_ONLY_SCOPE if settings.oauth_provider == "microsoft" else settings.scopes
    scopes = settings.scopes.split()
    if settings.oauth_provider in ("microsoft", "google"):
        scopes += [extra for extra in ("openid", "email") if extra not in scopes]
    return " ".join(scopes)


def authorization_params(settings: MailSettings) -> dict[str, str]:
    """Extra authorization request parameters: Google issues a refresh token only with these."""
    if settings.oauth_provider == "google":
        return {"access_type": "offline", "prompt": "consent"}
    return {}


# --- provider errors --------------------------------------------------------------------------


def provider_error(
    body: Mapping[str, Any] | str, *, stage: str, http_status: int | None = None, host: str | None = None
) -> OAuthError:
    """An `OAuthError` from a token endpoint's JSON error body, or from the text of an error page.

    Microsoft: `{"error", "error_description": "AADSTS50011: ...", "error_codes": [50011], "trace_id",
    "correlation_id", "timestamp", "error_uri"}`. Google and RFC 6749: `{"error", "error_description"}`.
    """
    if isinstance(body, str):
        return _page_error(body, stage=stage, http_status=http_status, host=host)
    error = str(body.get("error") or "unknown_error")
    description = str(body.get("error_description") or "")
    codes = tuple(int(code) for code in body.get("error_codes") or () if str(code).isdigit())
    found = _AADSTS.search(description)
    code = found.group(1) if found else (f"AADSTS{codes[0]}" if codes else error)
    return OAuthError(
        error,
        description,
        stage=stage,
        provider_code=code,
        error_codes=codes,
        http_status=http_status,
        trace_id=str(body.get("trace_id") or ""),
        correlation_id=str(body.get("correlation_id") or ""),
        timestamp=str(body.get("timestamp") or ""),
        error_uri=str(body.get("error_uri") or ""),
        host=host,
    )


# The provider pages recognised, each by a mark only it has, and what is read from it. Any other
# page is not echoed: an endpoint pointed at an internal URL must not bring back its text.
_PAGE_PATTERNS = (
    # Microsoft's sign-in page: "AADSTS50011: The redirect URI ... does not match ..."
    (re.compile(r"AADSTS\d+\s*:"), re.compile(r"(?P<code>AADSTS\d+)\s*:\s*(?P<text>[^<\r\n]+)")),
    # Google's: "Error 400: redirect_uri_mismatch" (the code only)
    (re.compile(r"Error\s+\d{3}\s*:"), re.compile(r"Error\s+\d{3}\s*:\s*(?P<code>[a-z_]+)(?P<text>)")),
    # oidc-provider's error page: "<pre><strong>error</strong>: invalid_redirect_uri</pre>"
    (
        re.compile(r"<pre><strong>error</strong>:"),
        re.compile(r"error:\s*(?P<code>[a-z_]+)\s*(?:error_description:\s*(?P<text>[^<\r\n]+))?"),
    ),
)
# RFC 6749 section 5.2: error_description is printable ASCII without '"' and '\\'.
_UNSTRUCTURED = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]+")
_DESCRIPTION_LIMIT = 500


def _prose_before(text: str, end: int) -> str:
    """The sentence a page shows above its "Error 400: code" line: Google's account of the cause."""
    lines = [line.strip() for line in text[:end].splitlines() if line.strip()]
    prose = [line for line in lines if not line.lower().startswith(("access blocked", "sign in", "error"))]
    return prose[-1] if prose else ""


def _page_error(page: str, *, stage: str, http_status: int | None, host: str | None) -> OAuthError:
    inline = re.sub(r"</?(?:strong|b|em|i|span|code|a)\b[^>]*>", "", page)
    text = html.unescape(re.sub(r"<[^>]+>", "\n", inline))
    for mark, pattern in _PAGE_PATTERNS:
        found = pattern.search(text) if mark.search(page) else None
        if found:
            code = found.group("code")
            found_text = _UNSTRUCTURED.sub(" ", found.group("text") or "").strip()
            description = (found_text or _prose_before(text, found.start()))[:_DESCRIPTION_LIMIT]
            if code.startswith("AADSTS"):
                description = f"{code}: {description}"
                error = "invalid_request"
                return OAuthError(
                    error, description, stage=stage, provider_code=code, http_status=http_status, host=host
                )
            return OAuthError(code, description, stage=stage, http_status=http_status, host=host)
    return OAuthError(
        "authorization_refused",
        f"the provider refused the sign-in request (HTTP {http_status})",
        stage=stage,
        http_status=http_status,
        host=host,
    )


# --- the account that signed in ---------------------------------------------------------------


def id_token_claims(id_token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified (see `TokenGrant`); {} when it is not a readable JWT."""
    parts = id_token.split(".")
    if len(parts) < 2:
        return {}
    padded = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def account_from_claims(claims: Mapping[str, Any] | None) -> str:
    for name in ACCOUNT_CLAIMS:
        value = (claims or {}).get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def account_mismatch(account: str, settings: MailSettings) -> str:
    """A warning when the account that signed in is not the mailbox that sends, else ""."""
    if not account or "@" not in account:
        return ""
    signed_in = account.lower()
    differing = [
        (label, value)
        for label, value in (("Username", settings.username), ("From Address", settings.from_address))
        if value and value.lower() != signed_in
    ]
    if not differing:
        return ""
    names = " and ".join(f"the {label} ({value})" for label, value in differing)
    return (
        f"Signed in as {account}, which is not {names}. The relay will refuse to send as another "
        f"mailbox (SendAsDenied): sign in again with the mailbox's own account, or change the settings."
    )


# --- health -----------------------------------------------------------------------------------


def settings_changed_since_sign_in(tokens: OAuthTokens, settings: MailSettings) -> bool:
    """Tokens belong to one client at one token endpoint; after a change they cannot be used."""
    return (tokens.client_id, tokens.token_endpoint) != (settings.client_id, settings.token_endpoint)


def token_health(tokens: OAuthTokens | None, settings: MailSettings, now: datetime) -> TokenHealth:
    if tokens is None:
        return TokenHealth("not_authorized", "E-mail Authorization Required: sign in to the provider")
    expires = tokens.access_expires_at
    if tokens.reauthorization_required:
        reason = tokens.last_error or "the refresh token no longer works"
        return TokenHealth("reauthorization_required", f"Sign in again: {reason}", expires)
    if settings_changed_since_sign_in(tokens, settings):
        return TokenHealth(
            "reauthorization_required",
            "Sign in again: the client ID or token endpoint changed since the last sign-in",
            expires,
        )
    risk_at, risk, window = _refresh_risk(tokens, settings)
    if risk_at is not None and window is not None and risk_at - now <= window / 4:
        reason = f"The refresh token expires at {risk_at:%Y-%m-%d %H:%M} UTC"
        return TokenHealth("expiring", reason, expires, risk_at, risk)
    return TokenHealth("valid", "Authorized", expires, risk_at, risk)


def _refresh_risk(
    tokens: OAuthTokens, settings: MailSettings
) -> tuple[datetime | None, str, timedelta | None]:
    if tokens.grant == "client_credentials" or tokens.refresh_token is None:
        return None, "", None
    if settings.oauth_provider == "microsoft":
        risk = "Microsoft refresh tokens expire after 90 days without use; the daily refresh keeps them alive"
        return tokens.last_used_at + _MICROSOFT_INACTIVITY, risk, _MICROSOFT_INACTIVITY
    if settings.oauth_provider == "google" and settings.oauth_app_testing:
        risk = (
            "Google refresh tokens of an app whose publishing status is Testing expire 7 days after "
            "sign-in: publish the app (In production) to keep them"
        )
        return tokens.obtained_at + _GOOGLE_TESTING, risk, _GOOGLE_TESTING
    if settings.oauth_provider == "google":
        risk = "Google refresh tokens expire after 6 months without use; the daily refresh keeps them alive"
        return tokens.last_used_at + _GOOGLE_INACTIVITY, risk, _GOOGLE_INACTIVITY
    return None, "", None


def endpoint_host(url: str) -> str | None:
    return urlsplit(url).hostname
