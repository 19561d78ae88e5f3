"""Microsoft's and Google's OAuth2 errors as they send them: the catalogue and the body builders.

`MICROSOFT_ERRORS` (keyed `AADSTSnnnn`) and `GOOGLE_ERRORS` (keyed by `error`) describe each error
and what causes it; `microsoft_error_body`, `microsoft_error_page`, `error_redirect_params`,
`google_error_body` and `google_error_page` build exactly what the provider sends. The stand-in
server (`provider_fakes`) and the tests of our error parsing share them.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
EXCHANGE_ONLINE = "00000002-0000-0ff1-ce00-000000000000"  # the resource app ID MFA errors name


@dataclass(frozen=True)
class ErrorSpec:
    """One error a provider sends. `text` may name the `ErrorContext` fields in braces.

    `status` is the token endpoint's HTTP code; at the authorization endpoint the error is shown on
    the provider's own page (`at_authorize="page"`, the browser never comes back) or sent back to
    the redirect URI (`"redirect"`). `cause` says what makes the provider send it. `page` is the
    prose of Google's error page when it differs from `text`.
    """

    status: int
    error: str
    text: str
    cause: str
    at_authorize: Literal["page", "redirect"] = "page"
    page: str = ""


_At = Literal["page", "redirect"]


def _ms(status: int, error: str, text: str, cause: str, at: _At = "page") -> ErrorSpec:
    return ErrorSpec(status, error, text, cause, at)


MICROSOFT_ERRORS: dict[str, ErrorSpec] = {
    "AADSTS50011": _ms(
        400,
        "invalid_request",
        "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs "
        "configured for the application '{client_id}'. Make sure the redirect URI sent in the request "
        "matches one added to your application in the Azure portal. Navigate to "
        "https://aka.ms/redirectUriMismatchError to learn more about how to fix this.",
        "The redirect URI is not one registered on the app (Authentication > Redirect URIs).",
    ),
    "AADSTS50194": _ms(
        400,
        "invalid_request",
        "Application '{client_id}'({app_name}) is not configured as a multi-tenant application. Usage of "
        "the /common endpoint is not supported for such applications created after '10/15/2018'. Use a "
        "tenant-specific endpoint or configure the application to be multi-tenant.",
        "A single-tenant app used the /common endpoint instead of its tenant ID.",
    ),
    "AADSTS700016": _ms(
        400,
        "unauthorized_client",
        "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can "
        "happen if the application has not been installed by the administrator of the tenant or "
        "consented to by any user in the tenant. You may have sent your authentication request to the "
        "wrong tenant.",
        "The client ID is wrong, or the app is registered in another tenant.",
    ),
    "AADSTS65004": _ms(
        400,
        "access_denied",
        "User declined to consent to access the app.",
        "The user pressed Cancel on the consent screen; sent back to the redirect URI.",
        "redirect",
    ),
    "AADSTS50076": _ms(
        400,
        "interaction_required",
        "Due to a configuration change made by your administrator, or because you moved to a new "
        "location, you must use multi-factor authentication to access '{resource}'.",
        "Conditional Access requires MFA the sign-in did not do; sent back to the redirect URI.",
        "redirect",
    ),
    "AADSTS700082": _ms(
        400,
        "invalid_grant",
        "The refresh token has expired due to inactivity. The token was issued on {issued} and was "
        "inactive for 90.00:00:00.",
        "The refresh token was not used for 90 days.",
    ),
    "AADSTS70008": _ms(
        400,
        "invalid_grant",
        "The provided authorization code or refresh token has expired due to inactivity. Send a new "
        "interactive authorization request for this user and resource.",
        "The code or refresh token is past its lifetime.",
    ),
    "AADSTS50173": _ms(
        400,
        "invalid_grant",
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user "
        "might have changed or reset their password. The grant was issued on '{issued}' and the "
        "TokensValidFrom date (before which tokens are not valid) for this user is '{valid_from}'.",
        "The user's password changed or an administrator revoked the sessions.",
    ),
    "AADSTS70043": _ms(
        400,
        "invalid_grant",
        "The refresh token has expired or is invalid due to sign-in frequency checks by conditional "
        "access. The token was issued on {issued} and the maximum allowed lifetime for this request is "
        "{max_age}.",
        "A Conditional Access sign-in frequency policy ended the session.",
    ),
    "AADSTS7000215": _ms(
        401,
        "invalid_client",
        "Invalid client secret provided. Ensure the secret being sent in the request is the client "
        "secret value, not the client secret ID, for a secret added to app '{client_id}'.",
        "The client secret is wrong (often the secret's ID was pasted instead of its value).",
    ),
    "AADSTS7000222": _ms(
        401,
        "invalid_client",
        "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to "
        "create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate "
        "credentials for added security: https://aka.ms/certCreds",
        "The client secret passed its expiry date.",
    ),
    "AADSTS65001": _ms(
        400,
        "invalid_grant",
        "The user or administrator has not consented to use the application with ID '{client_id}' named "
        "'{app_name}'. Send an interactive authorization request for this user and resource.",
        "Consent for the scope was never given or was withdrawn.",
    ),
    "AADSTS54005": _ms(
        400,
        "invalid_grant",
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an "
        "existing refresh token.",
        "An authorization code was exchanged a second time.",
    ),
    "AADSTS501481": _ms(
        400,
        "invalid_grant",
        "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        "The PKCE code_verifier is missing or does not hash to the code_challenge.",
    ),
    "AADSTS70000": _ms(
        400,
        "invalid_grant",
        "The provided value for the 'code' parameter is not valid.",
        "The authorization code was never issued (the fake: not one it issued).",
    ),
    "AADSTS9002313": _ms(
        400,
        "invalid_request",
        "Invalid request. Request is malformed or invalid.",
        "A malformed request (the fake: a refresh token it never issued).",
    ),
    "AADSTS900144": _ms(
        400,
        "invalid_request",
        "The request body must contain the following parameter: '{detail}'.",
        "A required parameter is missing. The fake also requires PKCE with S256, which Microsoft "
        "demands only of public clients; sent back to the redirect URI.",
        "redirect",
    ),
    # The device code flow. Texts: Microsoft Entra's error-code reference (learn.microsoft.com/entra/
    # identity-platform/reference-error-codes) and its device code flow page (v2-oauth2-device-code):
    # a poll before the user has finished answers 70016 `authorization_pending`; a Conditional Access
    # policy that blocks the device code flow ends it at the token endpoint with 53003.
    "AADSTS70016": _ms(
        400,
        "authorization_pending",
        "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        "The device code was polled before the user finished signing in at the verification page.",
    ),
    "AADSTS53003": _ms(
        400,
        "invalid_grant",
        "Access has been blocked by Conditional Access policies. The access policy does not allow token "
        "issuance.",
        "A Conditional Access policy blocks the sign-in, e.g. one blocking the device code flow "
        "(Authentication flows); the device code poll is refused once the user has signed in.",
    ),
    "AADSTS70003": _ms(
        400,
        "unsupported_grant_type",
        "The app requested an unsupported grant type '{detail}'.",
        "A grant type Microsoft does not know.",
    ),
}

_GOOGLE_INVALID_REQUEST = "You can’t sign in because this app sent an invalid request."
GOOGLE_ERRORS: dict[str, ErrorSpec] = {
    "invalid_grant": ErrorSpec(
        400,
        "invalid_grant",
        "Token has been expired or revoked.",
        "The refresh token was revoked, unused for 6 months, outlived a password change or the 100-token "
        "limit, or is older than 7 days while the app's publishing status is Testing.",
    ),
    "invalid_grant_bad_request": ErrorSpec(
        400,
        "invalid_grant",
        "Bad Request",
        "The authorization code was already redeemed, or the refresh token is not one Google issued.",
    ),
    "invalid_grant_malformed_code": ErrorSpec(
        400, "invalid_grant", "Malformed auth code.", "The authorization code was never issued."
    ),
    "invalid_grant_missing_verifier": ErrorSpec(
        400, "invalid_grant", "Missing code verifier.", "PKCE was used but no code_verifier was sent."
    ),
    "invalid_grant_invalid_verifier": ErrorSpec(
        400, "invalid_grant", "Invalid code verifier.", "The code_verifier does not hash to the challenge."
    ),
    "invalid_client": ErrorSpec(
        401, "invalid_client", "The OAuth client was not found.", "The client ID is wrong or was deleted."
    ),
    "invalid_client_unauthorized": ErrorSpec(
        401, "invalid_client", "Unauthorized", "The client secret is wrong."
    ),
    "unauthorized_client": ErrorSpec(
        401,
        "unauthorized_client",
        "Unauthorized",
        "The refresh token belongs to another client, or the client may not use this grant.",
    ),
    "unsupported_grant_type": ErrorSpec(
        400, "unsupported_grant_type", "Invalid grant_type: {detail}", "Google has no such grant type."
    ),
    "redirect_uri_mismatch": ErrorSpec(
        400,
        "redirect_uri_mismatch",
        "Bad Request",
        "The redirect URI is not an authorised one of the client (token endpoint: not the one of the "
        "authorization request).",
        page="You can’t sign in to this app because it doesn’t comply with Google’s OAuth 2.0 policy. "
        "If you’re the app developer, register the redirect URI in the Google Cloud Console.",
    ),
    "deleted_client": ErrorSpec(
        401, "deleted_client", "The OAuth client was deleted.", "The OAuth client was deleted."
    ),
    "org_internal": ErrorSpec(
        403,
        "org_internal",
        "This client is restricted to users within its organization.",
        "The app's user type is Internal and the account is outside the Workspace organisation.",
    ),
    "admin_policy_enforced": ErrorSpec(
        400,
        "admin_policy_enforced",
        "The Google Account is unable to authorize one or more scopes requested due to the policies of "
        "their Google Workspace administrator.",
        "A Workspace administrator does not allow the app or the scope.",
    ),
    "access_denied": ErrorSpec(
        400, "access_denied", "", "The user pressed Cancel; sent back to the redirect URI.", "redirect"
    ),
    "invalid_request": ErrorSpec(
        400,
        "invalid_request",
        "Missing required parameter: {detail}",
        "A required parameter is missing. The fake requires PKCE with S256, which Google does not.",
        page=_GOOGLE_INVALID_REQUEST,
    ),
}


# --- bodies -----------------------------------------------------------------------------------


def new_uuid() -> str:
    return str(uuid.uuid4())


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ErrorContext:
    """What an error text names, and the identifiers Microsoft stamps on every error."""

    client_id: str = "6731de76-14a6-49ae-97bc-6eba6914391e"
    app_name: str = "alertmail"
    redirect_uri: str = "http://127.0.0.1:8080/oauth/callback"
    tenant: str = "contoso.onmicrosoft.com"
    resource: str = EXCHANGE_ONLINE
    detail: str = ""  # the parameter or grant type an error names
    now: datetime = field(default_factory=now_utc)
    trace_id: str = field(default_factory=new_uuid)
    correlation_id: str = field(default_factory=new_uuid)

    @property
    def timestamp(self) -> str:
        return f"{self.now:%Y-%m-%d %H:%M:%S}Z"

    def text(self, spec: ErrorSpec) -> str:
        def dotnet(moment: datetime) -> str:  # 2024-01-28T19:43:52.3866932Z
            return f"{moment:%Y-%m-%dT%H:%M:%S.%f}0Z"

        return spec.text.format(
            client_id=self.client_id,
            app_name=self.app_name,
            redirect_uri=self.redirect_uri,
            tenant=self.tenant,
            resource=self.resource,
            detail=self.detail,
            issued=dotnet(self.now - timedelta(days=91)),
            valid_from=dotnet(self.now - timedelta(days=1)),
            max_age="43200",
        )


def _microsoft_description(code: str, context: ErrorContext) -> str:
    text = context.text(MICROSOFT_ERRORS[code])
    return (
        f"{code}: {text}\r\nTrace ID: {context.trace_id}\r\nCorrelation ID: {context.correlation_id}"
        f"\r\nTimestamp: {context.timestamp}"
    )


def microsoft_error_body(code: str, context: ErrorContext | None = None) -> dict[str, Any]:
    """The JSON body of Microsoft's token endpoint for `code` ("AADSTS700082")."""
    context = context or ErrorContext()
    number = int(code.removeprefix("AADSTS"))
    return {
        "error": MICROSOFT_ERRORS[code].error,
        "error_description": _microsoft_description(code, context),
        "error_codes": [number],
        "timestamp": context.timestamp,
        "trace_id": context.trace_id,
        "correlation_id": context.correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={number}",
    }


def microsoft_error_page(code: str, context: ErrorContext | None = None) -> str:
    """Microsoft's sign-in error page (HTTP 200): the browser stays there, nothing is redirected."""
    context = context or ErrorContext()
    message = html.escape(f"{code}: {context.text(MICROSOFT_ERRORS[code])}", quote=False)
    stamp = f"{context.now:%Y-%m-%dT%H:%M:%S}.{context.now.microsecond // 1000:03d}Z"
    return (
        '<!DOCTYPE html>\n<html dir="ltr" lang="en"><head><meta charset="utf-8">'
        '<title>Sign in to your account</title></head>\n<body><div id="lightbox">\n'
        '<div role="heading">Sign in</div>\n'
        '<div id="errorTitle">Sorry, but we’re having trouble signing you in.</div>\n'
        f'<div id="errorMessage">{message}</div>\n'
        '<div id="debugDetails"><div>Troubleshooting details</div>\n'
        f"<div>Request Id: {context.trace_id}</div>\n"
        f"<div>Correlation Id: {context.correlation_id}</div>\n"
        f"<div>Timestamp: {stamp}</div>\n"
        f"<div>Message: {message}</div></div>\n</div></body></html>\n"
    )


def error_redirect_params(code: str, state: str, context: ErrorContext | None = None) -> dict[str, str]:
    """The query an error sent back to the redirect URI carries (Microsoft or Google by `code`)."""
    if code in GOOGLE_ERRORS:
        return {"error": GOOGLE_ERRORS[code].error, "state": state}
    context = context or ErrorContext()
    return {
        "error": MICROSOFT_ERRORS[code].error,
        "error_description": _microsoft_description(code, context),
        "error_uri": f"https://login.microsoftonline.com/error?code={code.removeprefix('AADSTS')}",
        "state": state,
    }


def google_error_body(key: str, context: ErrorContext | None = None) -> dict[str, Any]:
    """The JSON body of Google's token endpoint for a `GOOGLE_ERRORS` key."""
    spec = GOOGLE_ERRORS[key]
    return {"error": spec.error, "error_description": (context or ErrorContext()).text(spec)}


def google_error_page(key: str, context: ErrorContext | None = None) -> str:
    """Google's sign-in error page ("Error 400: redirect_uri_mismatch"), sent with `spec.status`."""
    context = context or ErrorContext()
    spec = GOOGLE_ERRORS[key]
    prose = html.escape(spec.page or context.text(spec), quote=False)
    details = html.escape(f"redirect_uri={context.redirect_uri} flowName=GeneralOAuthFlow", quote=False)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<title>Sign in - Google Accounts</title></head>\n<body><div id="view_container">\n'
        "<h1>Access blocked: Authorization Error</h1>\n"
        f"<p>{prose}</p>\n<p>Error {spec.status}: {spec.error}</p>\n"
        f"<p>Request details: {details}</p>\n</div></body></html>\n"
    )
