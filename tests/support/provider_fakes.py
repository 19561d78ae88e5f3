"""Stand-ins for Microsoft's and Google's OAuth2 endpoints, answering with the providers' own bodies.

The real endpoints cannot be reached from tests, so `ProviderFake` answers on 127.0.0.1 (port 0,
uvicorn on the test's own event loop) with the same paths, HTTP codes and error bodies:

- Microsoft: `GET /{tenant}/oauth2/v2.0/authorize`, `POST /{tenant}/oauth2/v2.0/token`;
- Google: `GET /o/oauth2/v2/auth`, `POST /token`.

Use it through the `provider_fake` fixture. URLs: `fake.base_url`, `fake.microsoft_authorize(tenant)`,
`fake.microsoft_token(tenant)`, `fake.google_authorize`, `fake.google_token`. Scripting:
`fake.token_error(code)` / `fake.authorize_error(code)` make every following request to that
endpoint fail with a catalogue entry until cleared with `None`; `fake.account`, `client_secret`,
`redirect_uris`, `single_tenant`, `access_token` and `expires_in` shape the rest. Every request is
kept in `fake.requests`, unredacted, so tests can assert what was sent: nothing here prints them.

The catalogues (`MICROSOFT_ERRORS`, `GOOGLE_ERRORS`) and the builders (`microsoft_error_body`,
`microsoft_error_page`, `error_redirect_params`, `google_error_body`, `google_error_page`) are what
the fake sends, so tests of the project's error parsing use the very same bodies.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import html
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import unquote, urlencode

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

__all__ = [
    "GOOGLE_ERRORS",
    "MICROSOFT_ERRORS",
    "ErrorContext",
    "ErrorSpec",
    "ProviderFake",
    "RecordedRequest",
    "error_redirect_params",
    "google_error_body",
    "google_error_page",
    "microsoft_error_body",
    "microsoft_error_page",
    "serving",
]

HOST = "127.0.0.1"
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


def _uuid() -> str:
    return str(uuid.uuid4())


def _now() -> datetime:
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
    now: datetime = field(default_factory=_now)
    trace_id: str = field(default_factory=_uuid)
    correlation_id: str = field(default_factory=_uuid)

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


# --- the fake ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received, unredacted. Its repr names fields, never their values."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]

    @property
    def params(self) -> dict[str, str]:
        return {**self.query, **self.form}

    def __repr__(self) -> str:
        return f"RecordedRequest({self.method} {self.path}, fields={sorted(self.params)})"


@dataclass
class _Grant:
    """What an authorization code or a refresh token stands for."""

    provider: Literal["microsoft", "google"]
    client_id: str
    scope: str
    tenant: str = ""
    redirect_uri: str = ""
    code_challenge: str = ""
    redeemed: bool = False


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _b64url_json(data: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode("ascii")


def _unsigned_jwt(claims: Mapping[str, Any]) -> str:
    header = {"typ": "JWT", "alg": "RS256", "kid": "provider-fake"}
    return f"{_b64url_json(header)}.{_b64url_json(claims)}.bm90LXNpZ25lZA"


def _with_query(url: str, params: Mapping[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def _normalise(code: str | int | None) -> str | None:
    if code is None:
        return None
    name = f"AADSTS{code}" if isinstance(code, int) or code.isdigit() else code
    if name not in MICROSOFT_ERRORS and name not in GOOGLE_ERRORS:
        raise KeyError(f"{name} is in neither MICROSOFT_ERRORS nor GOOGLE_ERRORS")
    return name


class ProviderFake:
    """Microsoft's and Google's authorization and token endpoints, on one local server."""

    def __init__(self) -> None:
        self.account = "relay@contoso.com"
        self.client_secret: str | None = None  # when set, a token request must present it
        self.redirect_uris: set[str] | None = None  # when set, the only redirect URIs accepted
        self.single_tenant = False  # /common answers AADSTS50194
        self.tenant_id = TENANT_ID
        self.app_name = "alertmail"
        self.access_token: str | None = None  # issue this access token (None: a fresh one each time)
        self.expires_in = 3599
        self.requests: list[RecordedRequest] = []
        self._base_url: str | None = None
        self._token_error: str | None = None
        self._authorize_error: str | None = None
        self._codes: dict[str, _Grant] = {}
        self._refresh_tokens: dict[str, _Grant] = {}

    # --- URLs and scripting

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the provider fake is not serving: use the provider_fake fixture")
        return self._base_url

    def microsoft_authorize(self, tenant: str = TENANT_ID) -> str:
        return f"{self.base_url}/{tenant}/oauth2/v2.0/authorize"

    def microsoft_token(self, tenant: str = TENANT_ID) -> str:
        return f"{self.base_url}/{tenant}/oauth2/v2.0/token"

    @property
    def google_authorize(self) -> str:
        return f"{self.base_url}/o/oauth2/v2/auth"

    @property
    def google_token(self) -> str:
        return f"{self.base_url}/token"

    @property
    def token_requests(self) -> list[RecordedRequest]:
        return [request for request in self.requests if request.method == "POST"]

    def token_error(self, code: str | int | None) -> None:
        """Answer every token request with this error ("AADSTS700082", 700082, "invalid_grant")."""
        self._token_error = _normalise(code)

    def authorize_error(self, code: str | int | None) -> None:
        """Answer every authorization request with this error, on a page or via the redirect URI."""
        self._authorize_error = _normalise(code)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/{tenant}/oauth2/v2.0/authorize", self._microsoft_authorize, methods=["GET"]),
                Route("/{tenant}/oauth2/v2.0/token", self._microsoft_token, methods=["POST"]),
                Route("/o/oauth2/v2/auth", self._google_authorize, methods=["GET"]),
                Route("/token", self._google_token, methods=["POST"]),
            ]
        )

    @contextlib.contextmanager
    def _serving_at(self, base_url: str) -> Iterator[None]:
        self._base_url = base_url
        try:
            yield
        finally:
            self._base_url = None

    # --- shared steps

    async def _record(self, request: Request) -> RecordedRequest:
        form = {name: str(value) for name, value in (await request.form()).items()}
        recorded = RecordedRequest(
            request.method, request.url.path, dict(request.query_params), form, dict(request.headers)
        )
        self.requests.append(recorded)
        return recorded

    def _context(self, params: Mapping[str, str], tenant: str = "", detail: str = "") -> ErrorContext:
        return ErrorContext(
            client_id=params.get("client_id", ""),
            app_name=self.app_name,
            redirect_uri=params.get("redirect_uri", ""),
            tenant=tenant or self.tenant_id,
            detail=detail,
        )

    def _client_secret(self, recorded: RecordedRequest) -> str | None:
        basic = recorded.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            decoded = base64.b64decode(basic[6:]).decode()
            return unquote(decoded.partition(":")[2])
        return recorded.form.get("client_secret")

    def _secret_refused(self, recorded: RecordedRequest) -> bool:
        return self.client_secret is not None and self._client_secret(recorded) != self.client_secret

    def _pkce_missing(self, params: Mapping[str, str]) -> str:
        if not params.get("code_challenge"):
            return "code_challenge"
        return "" if params.get("code_challenge_method") == "S256" else "code_challenge_method"

    def _redirect_refused(self, params: Mapping[str, str]) -> bool:
        uri = params.get("redirect_uri", "")
        return not uri or (self.redirect_uris is not None and uri not in self.redirect_uris)

    def _issue_code(self, grant: _Grant) -> str:
        code = f"{'0.A' if grant.provider == 'microsoft' else '4/0A'}{secrets.token_urlsafe(48)}"
        self._codes[code] = grant
        return code

    def _new_refresh_token(self, grant: _Grant) -> str:
        token = f"{'0.A' if grant.provider == 'microsoft' else '1//0'}{secrets.token_urlsafe(64)}"
        self._refresh_tokens[token] = grant
        return token

    def _new_access_token(self, prefix: str) -> str:
        return self.access_token or f"{prefix}{secrets.token_urlsafe(64)}"

    # --- Microsoft

    def _microsoft_refusal(self, code: str, params: Mapping[str, str], tenant: str) -> Response:
        if code not in MICROSOFT_ERRORS:
            return PlainTextResponse(f"provider fake: {code} is not a Microsoft error", status_code=500)
        body = microsoft_error_body(code, self._context(params, tenant))
        headers = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
        return JSONResponse(body, status_code=MICROSOFT_ERRORS[code].status, headers=headers)

    def _microsoft_authorize_refusal(self, code: str, params: Mapping[str, str], tenant: str) -> Response:
        if code not in MICROSOFT_ERRORS:
            return PlainTextResponse(f"provider fake: {code} is not a Microsoft error", status_code=500)
        context = self._context(params, tenant, detail=self._pkce_missing(params))
        if MICROSOFT_ERRORS[code].at_authorize == "redirect" and params.get("redirect_uri"):
            query = error_redirect_params(code, params.get("state", ""), context)
            return RedirectResponse(_with_query(params["redirect_uri"], query), status_code=302)
        return HTMLResponse(microsoft_error_page(code, context))

    async def _microsoft_authorize(self, request: Request) -> Response:
        params = (await self._record(request)).query
        tenant = request.path_params["tenant"]
        if self.single_tenant and tenant == "common":
            return self._microsoft_authorize_refusal("AADSTS50194", params, tenant)
        if self._authorize_error:
            return self._microsoft_authorize_refusal(self._authorize_error, params, tenant)
        if self._redirect_refused(params):
            return self._microsoft_authorize_refusal("AADSTS50011", params, tenant)
        if self._pkce_missing(params):
            return self._microsoft_authorize_refusal("AADSTS900144", params, tenant)
        grant = _Grant(
            "microsoft", params.get("client_id", ""), params.get("scope", ""), tenant,
            params["redirect_uri"], params["code_challenge"],
        )  # fmt: skip
        query = {"code": self._issue_code(grant), "state": params.get("state", ""), "session_state": _uuid()}
        return RedirectResponse(_with_query(params["redirect_uri"], query), status_code=302)

    async def _microsoft_token(self, request: Request) -> Response:
        recorded = await self._record(request)
        form, tenant = recorded.form, request.path_params["tenant"]
        if self.single_tenant and tenant == "common":
            return self._microsoft_refusal("AADSTS50194", form, tenant)
        if self._token_error:
            return self._microsoft_refusal(self._token_error, form, tenant)
        if self._secret_refused(recorded):
            return self._microsoft_refusal("AADSTS7000215", form, tenant)
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            grant, refusal = self._redeem_code(form, "microsoft")
        elif grant_type == "refresh_token":
            grant = self._refresh_tokens.get(form.get("refresh_token", ""))
            refusal = "" if grant else "AADSTS9002313"
        elif grant_type == "client_credentials":
            grant, refusal = _Grant("microsoft", form.get("client_id", ""), "", tenant), ""
        else:
            detail = self._context(form, tenant, detail=grant_type)
            return JSONResponse(microsoft_error_body("AADSTS70003", detail), status_code=400)
        if refusal or grant is None:
            return self._microsoft_refusal(refusal or "AADSTS9002313", form, tenant)
        return JSONResponse(self._microsoft_tokens(grant, form), headers={"Cache-Control": "no-store"})

    def _microsoft_tokens(self, grant: _Grant, form: Mapping[str, str]) -> dict[str, Any]:
        scope = form.get("scope") or grant.scope
        body: dict[str, Any] = {"token_type": "Bearer"}
        if form.get("grant_type") != "client_credentials":
            body["scope"] = " ".join(s for s in scope.split() if s != "offline_access")
        body |= {"expires_in": self.expires_in, "ext_expires_in": self.expires_in}
        body["access_token"] = self._new_access_token("EwB")
        if form.get("grant_type") == "refresh_token" or "offline_access" in scope.split():
            body["refresh_token"] = self._new_refresh_token(grant)  # rotates on every refresh
        if "openid" in scope.split():
            body["id_token"] = _unsigned_jwt(self._microsoft_claims(grant))
        return body

    def _microsoft_claims(self, grant: _Grant) -> dict[str, Any]:
        now = int(_now().timestamp())
        tid = self.tenant_id if grant.tenant in ("common", "organizations", "") else grant.tenant
        return {
            "aud": grant.client_id,
            "iss": f"https://login.microsoftonline.com/{tid}/v2.0",
            "iat": now, "nbf": now, "exp": now + 3600,
            "name": self.account.partition("@")[0],
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"oid:{self.account}")),
            "preferred_username": self.account,
            "email": self.account,
            "sub": hashlib.sha256(self.account.encode()).hexdigest()[:43],
            "tid": tid,
            "ver": "2.0",
        }  # fmt: skip

    # --- Google

    def _google_refusal(self, key: str, params: Mapping[str, str], detail: str = "") -> Response:
        if key not in GOOGLE_ERRORS:
            return PlainTextResponse(f"provider fake: {key} is not a Google error", status_code=500)
        body = json.dumps(google_error_body(key, self._context(params, detail=detail)), indent=2)
        headers = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"}
        return Response(body, GOOGLE_ERRORS[key].status, headers, "application/json; charset=utf-8")

    def _google_authorize_refusal(self, key: str, params: Mapping[str, str]) -> Response:
        if key not in GOOGLE_ERRORS:
            return PlainTextResponse(f"provider fake: {key} is not a Google error", status_code=500)
        spec = GOOGLE_ERRORS[key]
        if spec.at_authorize == "redirect" and params.get("redirect_uri"):
            query = error_redirect_params(key, params.get("state", ""))
            return RedirectResponse(_with_query(params["redirect_uri"], query), status_code=302)
        context = self._context(params, detail=self._pkce_missing(params))
        return HTMLResponse(google_error_page(key, context), status_code=spec.status)

    async def _google_authorize(self, request: Request) -> Response:
        params = (await self._record(request)).query
        if self._authorize_error:
            return self._google_authorize_refusal(self._authorize_error, params)
        if self._redirect_refused(params):
            return self._google_authorize_refusal("redirect_uri_mismatch", params)
        if self._pkce_missing(params):
            return self._google_authorize_refusal("invalid_request", params)
        scope = _google_scope(params.get("scope", ""))
        grant = _Grant(
            "google", params.get("client_id", ""), scope, "", params["redirect_uri"], params["code_challenge"]
        )
        query = {"state": params.get("state", ""), "code": self._issue_code(grant), "scope": scope}
        query |= {"authuser": "0", "prompt": params.get("prompt", "none")}
        return RedirectResponse(_with_query(params["redirect_uri"], query), status_code=302)

    async def _google_token(self, request: Request) -> Response:
        recorded = await self._record(request)
        form = recorded.form
        if self._token_error:
            return self._google_refusal(self._token_error, form)
        if self._secret_refused(recorded):
            return self._google_refusal("invalid_client_unauthorized", form)
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            grant, refusal = self._redeem_code(form, "google")
        elif grant_type == "refresh_token":
            grant = self._refresh_tokens.get(form.get("refresh_token", ""))
            refusal = "" if grant else "invalid_grant_bad_request"
        else:
            return self._google_refusal("unsupported_grant_type", form, detail=grant_type)
        if refusal or grant is None:
            return self._google_refusal(refusal or "invalid_grant_bad_request", form)
        body: dict[str, Any] = {"access_token": self._new_access_token("ya29.")}
        body["expires_in"] = self.expires_in
        if grant_type == "authorization_code":
            body["refresh_token"] = self._new_refresh_token(grant)  # Google does not rotate
        body |= {"scope": grant.scope, "token_type": "Bearer"}
        if "openid" in grant.scope.split():
            body["id_token"] = _unsigned_jwt(self._google_claims(grant))
        return JSONResponse(body, headers={"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"})

    def _google_claims(self, grant: _Grant) -> dict[str, Any]:
        now = int(_now().timestamp())
        return {
            "iss": "https://accounts.google.com",
            "azp": grant.client_id,
            "aud": grant.client_id,
            "sub": str(int(hashlib.sha256(self.account.encode()).hexdigest()[:16], 16)),
            "email": self.account,
            "email_verified": True,
            "iat": now,
            "exp": now + 3600,
        }

    # --- the code exchange, alike for both

    def _redeem_code(
        self, form: Mapping[str, str], provider: Literal["microsoft", "google"]
    ) -> tuple[_Grant | None, str]:
        """The grant a code stands for, or the key of the refusal. A code is good once."""
        microsoft = provider == "microsoft"
        grant = self._codes.get(form.get("code", ""))
        if grant is None or grant.provider != provider:
            return None, "AADSTS70000" if microsoft else "invalid_grant_malformed_code"
        if grant.redeemed:
            return None, "AADSTS54005" if microsoft else "invalid_grant_bad_request"
        if not microsoft and form.get("redirect_uri") != grant.redirect_uri:
            return None, "redirect_uri_mismatch"
        verifier = form.get("code_verifier", "")
        if not verifier or _s256(verifier) != grant.code_challenge:
            if microsoft:
                return None, "AADSTS501481"
            return None, "invalid_grant_invalid_verifier" if verifier else "invalid_grant_missing_verifier"
        grant.redeemed = True
        return grant, ""


def _google_scope(scope: str) -> str:
    """Google answers with the full names of the OpenID Connect shorthands."""
    full = {
        "email": "https://www.googleapis.com/auth/userinfo.email",
        "profile": "https://www.googleapis.com/auth/userinfo.profile",
    }
    return " ".join(full.get(name, name) for name in scope.split())


# --- serving ----------------------------------------------------------------------------------


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the test runner's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(fake: ProviderFake) -> AsyncIterator[ProviderFake]:
    """Serve `fake` on 127.0.0.1, a free port, on the running event loop, until the block ends."""
    config = uvicorn.Config(
        fake.app(), host=HOST, port=0, log_level="warning", log_config=None, lifespan="off", ws="none"
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                await task  # raises what stopped it
                raise RuntimeError("the provider fake stopped before it started")
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        with fake._serving_at(f"http://{HOST}:{port}"):
            yield fake
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def provider_fake() -> AsyncIterator[ProviderFake]:
    """A running `ProviderFake`, stopped after the test."""
    async with serving(ProviderFake()) as fake:
        yield fake
