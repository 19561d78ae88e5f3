"""The provider's authorization and token endpoints, through Authlib's httpx client.

Authlib builds the requests (PKCE S256, client authentication, grant parameters). What it would do
with an error response, raise its own `OAuthError` with `error` and `error_description` only, loses
Microsoft's `error_codes`, `trace_id` and `correlation_id`; so a compliance hook reads every token
response first and raises `alertmail.errors.OAuthError` with the whole body. httpx's own errors are
translated here too, the one place that knows them.
"""

from __future__ import annotations

import asyncio
import re
import socket
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from alertmail.domain.device_flow import DEVICE_GRANT_TYPE, DeviceAuthorization, parse_device_authorization
from alertmail.domain.oauth import (
    Grant,
    TokenGrant,
    authorization_params,
    endpoint_host,
    id_token_claims,
    provider_error,
    request_scopes,
)
from alertmail.domain.settings import MailSettings, device_endpoint
from alertmail.errors import OAuthError

if TYPE_CHECKING:
    import httpx
    from authlib.integrations.httpx_client import AsyncOAuth2Client

# httpx and Authlib are imported where they are used: a server that never talks OAuth (most do
# not) and the commands that never do (sendmail, notify) keep them out of memory.


def _authlib_client() -> Any:  # the class; Authlib is untyped
    """Authlib's httpx client, imported on first use: commands that never talk OAuth (sendmail,
    notify) do not pay for loading it."""
    from authlib.deprecate import AuthlibDeprecationWarning

    with warnings.catch_warnings():
        # Authlib 1.9 prefers the `httpx2` fork and warns when it falls back to httpx, which is the
        # HTTP client this project chose; the fallback is the documented, supported path.
        warnings.filterwarnings("ignore", category=AuthlibDeprecationWarning)
        from authlib.integrations.httpx_client import AsyncOAuth2Client
    return AsyncOAuth2Client


__all__ = ["HttpOAuthClient"]

_MICROSOFT_REFUSAL = re.compile(r"AADSTS\d+\s*:")


class HttpOAuthClient:
    """Implements the `OAuthClient` port. `transport` lets a test route requests to an ASGI app."""

    def __init__(self, *, timeout: float = 30.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._timeout = timeout
        self._transport = transport

    def authorization_url(
        self, settings: MailSettings, *, redirect_uri: str, state: str, code_verifier: str
    ) -> str:
        from authlib.oauth2.client import OAuth2Client as UrlBuilder

        builder = UrlBuilder(
            session=None,
            client_id=settings.client_id,
            scope=request_scopes(settings, "authorization_code"),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
        )
        url, _ = builder.create_authorization_url(
            settings.authorization_endpoint,
            state=state,
            code_verifier=code_verifier,
            **authorization_params(settings),
        )
        return str(url)

    async def preflight(self, authorization_url: str, *, time_limit: float | None = None) -> None:
        host = endpoint_host(authorization_url)
        limit = time_limit or self._timeout
        with _translate_http_errors("authorize", host, limit):
            async with asyncio.timeout(limit), self._http(limit) as http:
                response = await http.get(authorization_url, follow_redirects=False)
        _check_authorization_answer(response, host)

    async def exchange_code(
        self, settings: MailSettings, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenGrant:
        async with self._oauth(settings, "authorization_code", "token", redirect_uri) as client:
            token = await client.fetch_token(
                settings.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
            )
        return _grant(token)

    async def refresh(self, settings: MailSettings, refresh_token: str) -> TokenGrant:
        async with self._oauth(settings, "authorization_code", "refresh") as client:
            token = await client.refresh_token(settings.token_endpoint, refresh_token=refresh_token)
        # Authlib copies the old refresh token in when the response has none; only a new one counts.
        if token.get("refresh_token") == refresh_token:
            token = {**token, "refresh_token": None}
        return _grant(token)

    async def client_credentials(self, settings: MailSettings) -> TokenGrant:
        async with self._oauth(settings, "client_credentials", "client_credentials") as client:
            token = await client.fetch_token(settings.token_endpoint, grant_type="client_credentials")
        return _grant(token)

    async def google_token_info(self, settings: MailSettings, access_token: str) -> dict[str, Any]:
        """Google's token-info endpoint, beside its token endpoint (`oauth2.googleapis.com`).

        Asked the way Google's own auth library asks it (google-auth-library-nodejs,
        `getTokenInfo`): a POST with the token as a Bearer credential, not `?access_token=` in the
        URL, which httpx logs at INFO with every request. An error names the host alone."""
        url = google_token_info_url(settings.token_endpoint)
        host = endpoint_host(url)
        limit = settings.connect_timeout
        headers = {"Authorization": f"Bearer {access_token}"}
        with _translate_http_errors("token_info", host, limit):
            async with asyncio.timeout(limit), self._http(limit) as http:
                response = await http.post(url, headers=headers)
        body = _json(response)
        if response.status_code >= 400 or not isinstance(body, dict):
            raise provider_error(
                body if isinstance(body, dict) else response.text[:2000],
                stage="token_info",
                http_status=response.status_code,
                host=host,
            )
        return body

    async def device_authorization(self, settings: MailSettings) -> DeviceAuthorization:
        """RFC 8628 section 3.1: the client authenticates as it does at the token endpoint (a
        public client, Microsoft's "Allow public client flows", sends its client_id alone)."""
        endpoint = device_endpoint(settings)
        host = endpoint_host(endpoint)
        async with self._oauth(settings, "authorization_code", "device") as client:
            response = await client.post(
                endpoint,
                data={"scope": request_scopes(settings, "authorization_code")},
                auth=client.client_auth(client.token_endpoint_auth_method),
            )
        return _device_authorization(response, host)

    async def poll_device_token(self, settings: MailSettings, device_code: str) -> TokenGrant:
        """One poll of the token endpoint; `authorization_pending` and `slow_down` are raised as
        `OAuthError` like any refusal, for the caller to read."""
        async with self._oauth(settings, "authorization_code", "device", scoped=False) as client:
            token = await client.fetch_token(
                settings.token_endpoint, grant_type=DEVICE_GRANT_TYPE, device_code=device_code
            )
        return _grant(token)

    # --- plumbing -----------------------------------------------------------------------------

    def _http(self, timeout: float) -> httpx.AsyncClient:
        import httpx

        # No redirect is followed: a provider answers a token request itself, and a redirect of
        # the authorization request (to a login page) is read, not visited.
        return httpx.AsyncClient(timeout=timeout, transport=self._transport, follow_redirects=False)

    @asynccontextmanager
    async def _oauth(
        self,
        settings: MailSettings,
        grant: Grant,
        stage: str,
        redirect_uri: str | None = None,
        *,
        scoped: bool = True,  # the device code grant carries no scope: the code stands for it
    ) -> AsyncIterator[AsyncOAuth2Client]:
        secret = settings.client_secret.get_secret_value() if settings.client_secret else None
        host = endpoint_host(settings.token_endpoint)
        limit = settings.connect_timeout  # the whole exchange, connect and read alike
        client = _authlib_client()(
            client_id=settings.client_id,
            client_secret=secret,
            token_endpoint_auth_method=_auth_method(settings, secret),
            scope=request_scopes(settings, grant) if scoped else None,
            redirect_uri=redirect_uri,
            timeout=limit,
            transport=self._transport,
            follow_redirects=False,  # the secret goes to the token endpoint and nowhere else
        )
        check = _token_response_check(stage, host)
        client.register_compliance_hook("access_token_response", check)
        client.register_compliance_hook("refresh_token_response", check)
        with _translate_http_errors(stage, host, limit):
            async with asyncio.timeout(limit), client:
                yield client


def google_token_info_url(token_endpoint: str) -> str:
    """`https://oauth2.googleapis.com/tokeninfo` for Google's token endpoint: same origin."""
    parts = urlsplit(token_endpoint)
    return f"{parts.scheme}://{parts.netloc}/tokeninfo"


def _auth_method(settings: MailSettings, secret: str | None) -> str:
    if not secret:
        return "none"  # a public client: PKCE is its proof
    # Microsoft's and Google's documentation send the secret in the body; RFC 6749 prefers Basic,
    # which is what a provider registered without saying (dynamic registration's default) expects.
    return (
        "client_secret_post" if settings.oauth_provider in ("microsoft", "google") else "client_secret_basic"
    )


def _token_response_check(stage: str, host: str | None) -> Callable[[httpx.Response], httpx.Response]:
    def check(response: httpx.Response) -> httpx.Response:
        body = _json(response)
        if response.status_code >= 400 or (isinstance(body, dict) and "error" in body):
            raise provider_error(
                body if isinstance(body, dict) else response.text[:2000],
                stage=stage,
                http_status=response.status_code,
                host=host,
            )
        if not isinstance(body, dict) or "access_token" not in body:
            raise OAuthError(
                "invalid_response",
                f"the token endpoint answered HTTP {response.status_code} without an access token",
                stage=stage,
                http_status=response.status_code,
                host=host,
            )
        return response

    return check


def _device_authorization(response: httpx.Response, host: str | None) -> DeviceAuthorization:
    """The device authorization response, or the provider's refusal as an `OAuthError`."""
    body = _json(response)
    if response.status_code >= 400 or not isinstance(body, dict) or "error" in body:
        raise provider_error(
            body if isinstance(body, dict) else response.text[:2000],
            stage="device",
            http_status=response.status_code,
            host=host,
        )
    try:
        return parse_device_authorization(body)
    except ValueError as exc:
        raise OAuthError(
            "invalid_response", f"the device authorization endpoint answered {exc}", stage="device", host=host
        ) from exc


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _check_authorization_answer(response: httpx.Response, host: str | None) -> None:
    """A redirect elsewhere (a login page) or a page without an error is a request accepted."""
    if response.is_redirect:
        query = parse_qs(urlsplit(response.headers.get("location", "")).query)
        if "error" in query:
            body = {"error": query["error"][0], "error_description": query.get("error_description", [""])[0]}
            raise provider_error(body, stage="authorize", http_status=response.status_code, host=host)
        return
    page = response.text[:200_000]
    # A sign-in page that loads is a request accepted; Microsoft shows its refusals on such a page.
    if response.status_code >= 400 or _MICROSOFT_REFUSAL.search(page):
        raise provider_error(page, stage="authorize", http_status=response.status_code, host=host)


@contextmanager
def _translate_http_errors(stage: str, host: str | None, limit: float) -> Iterator[None]:
    """One answer for every way an endpoint can fail to answer over HTTP: refused, reset, silent,
    too slow or not HTTP at all look alike, so the sign-in is no probe of what listens where."""
    import httpx

    try:
        yield
    except (httpx.HTTPError, TimeoutError) as exc:
        name = host or "the provider"
        if _find_cause(exc, socket.gaierror):
            message = f"could not resolve {name}"
        else:
            message = f"no HTTP answer from {name} within {limit:g} seconds"
        raise OAuthError("network_error", message, stage=stage, host=host) from exc


def _find_cause(exc: BaseException, kind: type[BaseException]) -> bool:
    link: BaseException | None = exc
    for _ in range(10):
        if link is None:
            return False
        if isinstance(link, kind):
            return True
        link = link.__cause__ or link.__context__
    return False


def _grant(token: dict[str, Any]) -> TokenGrant:
    refresh = token.get("refresh_token")
    expires_in = token.get("expires_in")
    id_token = token.get("id_token")
    return TokenGrant(
        access_token=SecretStr(str(token["access_token"])),
        refresh_token=SecretStr(str(refresh)) if refresh else None,
        expires_in=float(expires_in) if expires_in is not None else None,
        scope=str(token.get("scope") or ""),
        id_token_claims=id_token_claims(id_token) if isinstance(id_token, str) else None,
    )
