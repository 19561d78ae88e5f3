"""Stand-ins for Microsoft's and Google's OAuth2 endpoints, answering with the providers' own bodies.

The real endpoints cannot be reached from tests, so `ProviderFake` answers on 127.0.0.1 (port 0,
uvicorn on the test's own event loop) with the same paths, HTTP codes and error bodies:

- Microsoft: `GET /{tenant}/oauth2/v2.0/authorize`, `POST /{tenant}/oauth2/v2.0/token`,
  `POST /{tenant}/oauth2/v2.0/devicecode` (the device code flow: `fake.approve_device(user_code)`
  stands for the user signing in at microsoft.com/devicelogin; until then polls are pending);
- Google: `GET /o/oauth2/v2/auth`, `POST /token`, `GET /tokeninfo?access_token=`.

Use it through the `provider_fake` fixture. URLs: `fake.base_url`, `fake.microsoft_authorize(tenant)`,
`fake.microsoft_token(tenant)`, `fake.google_authorize`, `fake.google_token`. Scripting:
`fake.token_error(code)` / `fake.authorize_error(code)` make every following request to that
endpoint fail with a catalogue entry until cleared with `None`; `fake.account`, `client_secret`,
`redirect_uris`, `single_tenant`, `access_token` and `expires_in` shape the rest; `jwt_access_tokens`
makes Microsoft's access tokens JWTs with `app_roles` / `consented_permissions` (`provider_tokens`);
`token_gate` (an `asyncio.Event`) holds Microsoft token requests until it is set. Every request is
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
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import unquote, urlencode

import pytest
import trustme
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support.provider_errors import (
    GOOGLE_ERRORS,
    MICROSOFT_ERRORS,
    TENANT_ID,
    ErrorContext,
    ErrorSpec,
    error_redirect_params,
    google_error_body,
    google_error_page,
    microsoft_error_body,
    microsoft_error_page,
    new_uuid,
    now_utc,
)
from tests.support.provider_tokens import (
    GOOGLE_INVALID_TOKEN,
    GoogleAccessToken,
    google_token_info,
    microsoft_access_token,
)

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


@dataclass
class _DeviceCode:
    user_code: str
    grant: _Grant
    approved: bool = False


DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


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
        # Microsoft access tokens as Entra issues them for Exchange and Graph: JWTs whose claims
        # (`aud`, `roles`, `scp`) say what they allow (see `provider_tokens`). Off: opaque `EwB...`.
        self.jwt_access_tokens = False
        self.app_roles: list[str] = []  # Application permissions granted with admin consent
        self.consented_permissions: list[str] | None = None  # delegated; None: what was asked
        # When set, token requests are recorded and then held until it is: a request "in flight".
        self.token_gate: asyncio.Event | None = None
        self.requests: list[RecordedRequest] = []
        self.issued_access_tokens: set[str] = set()  # what a resource server stand-in accepts
        self.token_scopes: dict[str, str] = {}  # access token -> the scope it was issued for
        self._base_url: str | None = None
        self._token_error: str | None = None
        self._authorize_error: str | None = None
        self._codes: dict[str, _Grant] = {}
        self._refresh_tokens: dict[str, _Grant] = {}
        self._google_access: dict[str, GoogleAccessToken] = {}
        self.device_interval = 5  # seconds, as Microsoft announces
        self._device_codes: dict[str, _DeviceCode] = {}

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

    def microsoft_devicecode(self, tenant: str = TENANT_ID) -> str:
        return f"{self.base_url}/{tenant}/oauth2/v2.0/devicecode"

    def approve_device(self, user_code: str) -> None:
        """The user entered `user_code` at the verification page and signed in."""
        found = [code for code in self._device_codes.values() if code.user_code == user_code]
        assert found, f"no device code with user code {user_code}"
        found[0].approved = True

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

    def revoke_access_tokens(self) -> None:
        """Google forgets the access tokens it issued: its token-info endpoint then answers 400."""
        self._google_access.clear()

    def authorize_error(self, code: str | int | None) -> None:
        """Answer every authorization request with this error, on a page or via the redirect URI."""
        self._authorize_error = _normalise(code)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/{tenant}/oauth2/v2.0/authorize", self._microsoft_authorize, methods=["GET"]),
                Route("/{tenant}/oauth2/v2.0/token", self._microsoft_token, methods=["POST"]),
                Route("/{tenant}/oauth2/v2.0/devicecode", self._microsoft_devicecode, methods=["POST"]),
                Route("/o/oauth2/v2/auth", self._google_authorize, methods=["GET"]),
                Route("/token", self._google_token, methods=["POST"]),
                Route("/tokeninfo", self._google_token_info, methods=["GET", "POST"]),
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
        token = self.access_token or f"{prefix}{secrets.token_urlsafe(64)}"
        self.issued_access_tokens.add(token)
        return token

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
        query = {
            "code": self._issue_code(grant),
            "state": params.get("state", ""),
            "session_state": new_uuid(),
        }
        return RedirectResponse(_with_query(params["redirect_uri"], query), status_code=302)

    async def _microsoft_token(self, request: Request) -> Response:
        recorded = await self._record(request)
        if self.token_gate is not None:
            await self.token_gate.wait()
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
        elif grant_type == DEVICE_GRANT:
            grant, refusal = self._redeem_device_code(form)
        else:
            detail = self._context(form, tenant, detail=grant_type)
            return JSONResponse(microsoft_error_body("AADSTS70003", detail), status_code=400)
        if refusal or grant is None:
            return self._microsoft_refusal(refusal or "AADSTS9002313", form, tenant)
        return JSONResponse(self._microsoft_tokens(grant, form), headers={"Cache-Control": "no-store"})

    async def _microsoft_devicecode(self, request: Request) -> Response:
        """Microsoft's device authorization response (its device code flow documentation): no
        verification_uri_complete, an interval of 5 s and 15 minutes to enter the code."""
        form, tenant = (await self._record(request)).form, request.path_params["tenant"]
        user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
        device_code = f"GAQABAAEAAAAm-06blBE1TpVMil8KPQ41{secrets.token_urlsafe(96)}"
        grant = _Grant("microsoft", form.get("client_id", ""), form.get("scope", ""), tenant)
        self._device_codes[device_code] = _DeviceCode(user_code, grant)
        verification = "https://microsoft.com/devicelogin"
        return JSONResponse(
            {
                "user_code": user_code,
                "device_code": device_code,
                "verification_uri": verification,
                "expires_in": 900,
                "interval": self.device_interval,
                "message": f"To sign in, use a web browser to open the page {verification} and enter the "
                f"code {user_code} to authenticate.",
            }
        )

    def _redeem_device_code(self, form: Mapping[str, str]) -> tuple[_Grant | None, str]:
        code = self._device_codes.get(form.get("device_code", ""))
        if code is None:
            return None, "AADSTS70000"
        if not code.approved:
            return None, "AADSTS70016"
        del self._device_codes[form["device_code"]]  # good once
        return code.grant, ""

    def _microsoft_tokens(self, grant: _Grant, form: Mapping[str, str]) -> dict[str, Any]:
        scope = form.get("scope") or grant.scope
        body: dict[str, Any] = {"token_type": "Bearer"}
        if form.get("grant_type") != "client_credentials":
            body["scope"] = " ".join(s for s in scope.split() if s != "offline_access")
        body |= {"expires_in": self.expires_in, "ext_expires_in": self.expires_in}
        body["access_token"] = self._microsoft_access_token(grant, form, scope)
        self.token_scopes[body["access_token"]] = scope
        if form.get("grant_type") == "refresh_token" or "offline_access" in scope.split():
            body["refresh_token"] = self._new_refresh_token(grant)  # rotates on every refresh
        if "openid" in scope.split():
            body["id_token"] = _unsigned_jwt(self._microsoft_claims(grant))
        return body

    def _microsoft_access_token(self, grant: _Grant, form: Mapping[str, str], scope: str) -> str:
        if not self.jwt_access_tokens or self.access_token:
            return self._new_access_token("EwB")
        tid = self.tenant_id if grant.tenant in ("common", "organizations", "") else grant.tenant
        token = microsoft_access_token(
            scope=scope, client_id=grant.client_id or form.get("client_id", ""), tenant_id=tid,
            now=int(now_utc().timestamp()), expires_in=self.expires_in,
            app_only=form.get("grant_type") == "client_credentials", account=self.account,
            roles=self.app_roles, consented=self.consented_permissions,
        )  # fmt: skip
        self.issued_access_tokens.add(token)  # the Graph stand-in accepts what was issued
        return token

    def _microsoft_claims(self, grant: _Grant) -> dict[str, Any]:
        now = int(now_utc().timestamp())
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
        expires_at = int(now_utc().timestamp()) + self.expires_in
        self._google_access[body["access_token"]] = GoogleAccessToken(
            grant.client_id, grant.scope, expires_at, self.account
        )
        body["expires_in"] = self.expires_in
        if grant_type == "authorization_code":
            body["refresh_token"] = self._new_refresh_token(grant)  # Google does not rotate
        body |= {"scope": grant.scope, "token_type": "Bearer"}
        if "openid" in grant.scope.split():
            body["id_token"] = _unsigned_jwt(self._google_claims(grant))
        return JSONResponse(body, headers={"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"})

    async def _google_token_info(self, request: Request) -> Response:
        recorded = await self._record(request)
        bearer = recorded.headers.get("authorization", "").removeprefix("Bearer ")
        known = self._google_access.get(recorded.params.get("access_token") or bearer)
        now = int(now_utc().timestamp())
        headers = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"}
        if known is None or known.expires_at <= now:
            return JSONResponse(GOOGLE_INVALID_TOKEN, status_code=400, headers=headers)
        return JSONResponse(google_token_info(known, now), headers=headers)

    def _google_claims(self, grant: _Grant) -> dict[str, Any]:
        now = int(now_utc().timestamp())
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


class Servable(Protocol):
    """A stand-in server: its ASGI app, and where it is served while it is."""

    def app(self) -> Starlette: ...

    def _serving_at(self, base_url: str) -> contextlib.AbstractContextManager[None]: ...


_Fake = TypeVar("_Fake", bound=Servable)


@contextlib.asynccontextmanager
async def serving(fake: _Fake, *, tls: trustme.LeafCert | None = None) -> AsyncIterator[_Fake]:
    """Serve `fake` on 127.0.0.1, a free port, on the running event loop, until the block ends;
    over HTTPS with `tls` (a trustme certificate), else plain HTTP."""
    with contextlib.ExitStack() as files:
        pem = str(files.enter_context(tls.private_key_and_cert_chain_pem.tempfile())) if tls else None
        async with _served(fake, pem) as served:
            yield served


@contextlib.asynccontextmanager
async def _served(fake: _Fake, pem: str | None) -> AsyncIterator[_Fake]:
    config = uvicorn.Config(
        fake.app(), host=HOST, port=0, log_level="warning", log_config=None, lifespan="off", ws="none",
        ssl_certfile=pem, ssl_keyfile=pem,
    )  # fmt: skip
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                await task  # raises what stopped it
                raise RuntimeError("the provider fake stopped before it started")
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        with fake._serving_at(f"{'https' if pem else 'http'}://{HOST}:{port}"):
            yield fake
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def provider_fake() -> AsyncIterator[ProviderFake]:
    """A running `ProviderFake`, stopped after the test."""
    async with serving(ProviderFake()) as fake:
        yield fake
