"""Verify: does the access token allow sending, before any mail is sent? Pure checks over claims.

`requirement_for(settings)` says what the configured way of sending needs: the resource the token
must be for (its `aud`), the permission, and whether it is an Application permission (app-only,
in `roles`) or a Delegated one (`scp`). `check_claims(claims, requirement, now)` compares and
returns findings, each saying exactly what is wrong and the admin-center step that fixes it.

The E-mail Types are one mapping (`_REQUIREMENTS`, by `email_type`): SMTP OAuth2 needs
`SMTP.Send` / `SMTP.SendAsApp` on Exchange Online; Microsoft Graph `Mail.Send` on Graph; the
Gmail API `gmail.send`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from alertmail.domain.settings import MailSettings
from alertmail.domain.token_claims import TokenClaims, decode_access_token

__all__ = [
    "EXCHANGE_APP_ID",
    "GOOGLE_MAIL_SCOPE",
    "GRAPH_APP_ID",
    "Finding",
    "Requirement",
    "check_claims",
    "for_another_audience",
    "not_inspectable",
    "requirement_for",
]

# The application IDs Entra ID puts in `aud` for its first-party resources (v2 tokens), beside the
# resource URIs v1 tokens carry. The same in every cloud.
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
_EXCHANGE_AUDIENCES = ("https://outlook.office.com", "https://outlook.office365.com", EXCHANGE_APP_ID)
DEFAULT_GRAPH_ENDPOINT = "https://graph.microsoft.com"
GOOGLE_MAIL_SCOPE = "https://mail.google.com/"
GMAIL_SEND_SCOPE = "https://www.googleapis.com/auth/gmail.send"
_ENTRA = "Microsoft Entra admin center > App registrations > (this app) > API permissions > Add a permission"
_SIGN_IN_AGAIN = "then Sign In again (Mail Settings), so the new token carries it."

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Requirement:
    """What the token must carry to send the configured way."""

    resource: str  # how people name it: "Exchange Online (SMTP)", "Microsoft Graph"
    audiences: tuple[str, ...]  # () when unknown (a custom provider): not checked
    permissions: tuple[str, ...]  # any one of these suffices; () when unknown
    app_only: bool
    grant_fix: str  # the admin-center step that grants the permission
    audience_fix: str  # what to change when the token is for another resource
    # Microsoft keeps Application permissions in `roles` and Delegated ones in `scp`, and its
    # resources tell them apart. Other providers (RFC 9068) put either kind in `scope`.
    strict_claims: bool = False


@dataclass(frozen=True)
class Finding:
    """One result of Verify. `code` is stable (API, CLI, tests); `message` says what was found."""

    code: str  # wrong_audience | missing_permission | wrong_permission_type | expired | not_inspectable
    severity: Severity
    message: str
    fix: str


# --- what each way of sending needs ---------------------------------------------------------------


def _exchange_smtp(settings: MailSettings) -> Requirement:
    if settings.oauth_grant == "client_credentials":
        return Requirement(
            "Exchange Online (SMTP)",
            _EXCHANGE_AUDIENCES,
            ("SMTP.SendAsApp",),
            True,
            f"{_ENTRA} > APIs my organization uses > Office 365 Exchange Online > Application "
            "permissions > SMTP.SendAsApp > Add permissions, then Grant admin consent. Exchange also "
            "needs the app's service principal and its mailbox permission (New-ServicePrincipal, "
            "Add-MailboxPermission).",
            "App-only SMTP asks for https://outlook.office365.com/.default: check the Token Endpoint "
            "is Microsoft's for this tenant.",
            strict_claims=True,
        )
    return Requirement(
        "Exchange Online (SMTP)",
        _EXCHANGE_AUDIENCES,
        ("SMTP.Send",),
        False,
        f"{_ENTRA} > Microsoft Graph > Delegated permissions > SMTP.Send (and offline_access) > Add "
        "permissions, then Grant admin consent; " + _SIGN_IN_AGAIN,
        "Set the Scopes to https://outlook.office.com/SMTP.Send offline_access and Sign In again.",
        strict_claims=True,
    )


def _graph(settings: MailSettings) -> Requirement:
    endpoint = str(getattr(settings, "graph_endpoint", "") or DEFAULT_GRAPH_ENDPOINT).rstrip("/")
    audiences = (endpoint, GRAPH_APP_ID)
    if settings.oauth_grant == "client_credentials":
        return Requirement(
            "Microsoft Graph",
            audiences,
            ("Mail.Send",),
            True,
            f"{_ENTRA} > Microsoft Graph > Application permissions > Mail.Send > Add permissions, "
            "then Grant admin consent. Limit the app to the sending mailbox with Exchange's RBAC for "
            "Applications. (A grant made only through RBAC for Applications does not show in the "
            "token: a test e-mail checks it.)",
            f"App-only Graph asks for {endpoint}/.default: check the Graph endpoint and that the "
            "Token Endpoint is in the same cloud.",
            strict_claims=True,
        )
    return Requirement(
        "Microsoft Graph",
        audiences,
        ("Mail.Send",),
        False,
        f"{_ENTRA} > Microsoft Graph > Delegated permissions > Mail.Send (and offline_access) > Add "
        "permissions, then Grant admin consent; " + _SIGN_IN_AGAIN,
        "Set the Scopes to Mail.Send offline_access and Sign In again.",
        strict_claims=True,
    )


def _google(settings: MailSettings, permissions: tuple[str, ...]) -> Requirement:
    return Requirement(
        "this app's Client ID",
        (settings.client_id,) if settings.client_id else (),  # Google's `aud` is the client ID
        permissions,
        False,
        "Google Cloud console > Google Auth Platform > Data Access > Add or remove scopes > "
        f"{permissions[0]}; set the Scopes to it and " + _SIGN_IN_AGAIN,
        "The token was issued to another OAuth client: check the Client ID, then Sign In again.",
    )


def _custom(settings: MailSettings) -> Requirement:
    # What the provider's tokens should say is not known; the scopes asked for, less OpenID
    # Connect's own, are what the token should grant.
    asked = tuple(
        s for s in settings.scopes.split() if s not in ("openid", "offline_access", "email", "profile")
    )
    return Requirement(
        "the mail server",
        (),
        asked,
        settings.oauth_grant == "client_credentials",
        "Grant the client these scopes at the OAuth2 provider, " + _SIGN_IN_AGAIN,
        "",
    )


def _smtp(settings: MailSettings) -> Requirement:
    if settings.oauth_provider == "microsoft":
        return _exchange_smtp(settings)
    if settings.oauth_provider == "google":
        return _google(settings, (GOOGLE_MAIL_SCOPE,))
    return _custom(settings)


# One entry per E-mail Type that sends with an OAuth2 token.
_REQUIREMENTS: dict[str, Callable[[MailSettings], Requirement]] = {
    "smtp": _smtp,
    "graph": _graph,
    "gmail_api": lambda settings: _google(settings, (GMAIL_SEND_SCOPE, GOOGLE_MAIL_SCOPE)),
}


def requirement_for(settings: MailSettings) -> Requirement | None:
    """What the token must carry for these settings; None when they send without OAuth2."""
    needs = _REQUIREMENTS.get(str(settings.email_type))
    oauth = settings.auth_type == "oauth2" or settings.email_type not in ("smtp", "native")
    return needs(settings) if needs is not None and oauth else None


# --- the checks -------------------------------------------------------------------------------------


def for_another_audience(access_token: str, settings: MailSettings) -> bool:
    """Whether a stored token is for another resource than these settings send to: an app-only token
    cached for SMTP (outlook.office365.com) after a switch to Graph, or the other way round. Only a
    JWT says; an opaque token is taken as it is (the API's 401 then gets a fresh one)."""
    claims = decode_access_token(access_token)
    requirement = requirement_for(settings)
    if claims is None or requirement is None:
        return False
    return _audience(claims, requirement) is not None


def check_claims(claims: TokenClaims, requirement: Requirement, now: datetime) -> list[Finding]:
    """Every problem the claims show for this requirement; [] when the token allows sending."""
    found = [_expired(claims, now), _audience(claims, requirement), _permission(claims, requirement)]
    return [finding for finding in found if finding is not None]


def not_inspectable(requirement: Requirement) -> Finding:
    return Finding(
        "not_inspectable",
        "warning",
        "The access token is not a JWT, so its audience and permissions cannot be inspected here. "
        "The provider issued a token; whether it allows sending shows at the first send.",
        f"Nothing to change if sending works. Otherwise check the permission: {requirement.grant_fix}",
    )


def _expired(claims: TokenClaims, now: datetime) -> Finding | None:
    # RFC 7519 4.1.4: the token must not be accepted on or after `exp`.
    if claims.expires_at is None or now < claims.expires_at:
        return None
    late = int((now - claims.expires_at).total_seconds())
    return Finding(
        "expired",
        "error",
        f"The access token expired at {claims.expires_at:%Y-%m-%d %H:%M:%S} UTC, {late} seconds "
        "before this check, although it was just obtained.",
        "Check this appliance's clock and time zone (use NTP): the provider's clock and this one disagree.",
    )


def _audience(claims: TokenClaims, requirement: Requirement) -> Finding | None:
    if not requirement.audiences or not claims.audiences:
        return None
    expected = {_bare(audience) for audience in requirement.audiences}
    if any(_bare(audience) in expected for audience in claims.audiences):
        return None
    return Finding(
        "wrong_audience",
        "error",
        f"The access token is for {', '.join(claims.audiences)}, not for {requirement.resource} "
        f"({' or '.join(requirement.audiences)}): {requirement.resource} refuses it.",
        requirement.audience_fix,
    )


def _permission(claims: TokenClaims, requirement: Requirement) -> Finding | None:
    needed = requirement.permissions
    if not needed:
        return None
    held, other = (
        (claims.roles, claims.delegated) if requirement.app_only else (claims.delegated, claims.roles)
    )
    if _holds(held, needed) or (not requirement.strict_claims and _holds(other, needed)):
        return None
    kind, claim = ("Application", "roles") if requirement.app_only else ("Delegated", "scp")
    name = " or ".join(needed)
    if _holds(other, needed):
        other_kind = "Delegated" if requirement.app_only else "Application"
        return Finding(
            "wrong_permission_type",
            "error",
            f"The access token carries {name} as a {other_kind} permission, but this grant needs "
            f"it as an {kind} permission (in {claim}).",
            requirement.grant_fix,
        )
    has = ", ".join(held) or "none"
    where = f"{kind} permission {name} (in {claim})" if claims.source == "jwt" else f"the scope {name}"
    return Finding(
        "missing_permission",
        "error",
        f"The access token lacks the {where}; it carries: {has}.",
        requirement.grant_fix,
    )


def _holds(granted: tuple[str, ...], needed: tuple[str, ...]) -> bool:
    # Microsoft's `scp` names permissions bare (SMTP.Send); a scope may also be written in full
    # (https://outlook.office.com/SMTP.Send), which is the same permission.
    bare = {_permission_name(permission) for permission in granted}
    return any(permission in granted or _permission_name(permission) in bare for permission in needed)


def _permission_name(scope: str) -> str:
    if scope.startswith("https://") and not scope.endswith("/"):
        return scope.rsplit("/", 1)[-1].lower()
    return scope.lower()


def _bare(audience: str) -> str:
    return audience.rstrip("/").lower()
