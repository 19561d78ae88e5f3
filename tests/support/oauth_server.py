"""A real OAuth2 / OpenID Connect authorization server for tests: panva's oidc-provider.

`tests/oauth_server/server.mjs` runs it under Node.js on 127.0.0.1 and a free port (issuer
`http://127.0.0.1:<port>`). Its packages come from `npm ci --prefix tests/oauth_server`, which
`make test` runs; without Node.js or those packages the tests using it skip, or fail when
`ALERTMAIL_REQUIRE_OAUTH_SERVER=1` (CI).

- `oauth_server` (session): the started server as an `OAuthServer`. Each test registers a client
  of its own (`await oauth_server.register_client([redirect_uri])`), signs a user in without a
  person (`await oauth_server.sign_in(authorization_url)`: any login is accepted, and one with an
  "@" is also the account's e-mail address), and asks the server about tokens (`introspect`,
  `revoke`). A client registered with `device=DeviceOptions(...)` may also sign in with a code
  (RFC 8628); `approve_device(verification_uri_complete)` is the administrator approving it (or
  declining, `approve=False`) on the server's own device pages. Every method opens its own HTTP
  client, so any test's event loop can use it.
- `introspection_validator(server)`: a `token_validator` for the SMTP sink that accepts a bearer
  token when the server says it is active and belongs to the user.

What the server does, in short: authorization code flow with PKCE (S256) required; a refresh
token on every code grant of a client allowed the `refresh_token` grant, a new one on every use
(an old one used again revokes the grant), and on every device code grant too; client
credentials; opaque access tokens living the client's `access_token_ttl` seconds. A
client-credentials request for `https://<resource>/.default` (Microsoft Entra's app-only
convention) gets a JWT access token (RFC 9068) with `aud` the resource and, instead of `scope`,
`roles`: the client's registered `roles` (its granted Application permissions), absent when it has
none. A request for the `smtp.send` scope gets an access token for the resource `<issuer>/smtp`
with scope `smtp.send`, not usable at userinfo (like Microsoft's for outlook.office.com); the ID
token carries `email`. An unregistered redirect_uri gets oidc-provider's HTTP 400 error page naming
`invalid_redirect_uri`.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from tests.support.smtp import SmtpServerFactory, SmtpSink

__all__ = [
    "DEFAULT_LOGIN",
    "SMTP_SCOPE",
    "DeviceOptions",
    "OAuthClientRegistration",
    "OAuthServer",
    "SignInError",
    "introspection_validator",
]

SERVER_DIR = Path(__file__).resolve().parents[1] / "oauth_server"
DEFAULT_LOGIN = "relay-user@example.com"
SMTP_SCOPE = "smtp.send"
CODE_FLOW_GRANTS = ("authorization_code", "refresh_token", "client_credentials")
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
MISSING_REASON = (
    "the local OAuth2 server needs Node.js and its packages: run `make test` (it runs npm ci in"
    " tests/oauth_server), or `npm ci --prefix tests/oauth_server`"
)
STARTUP_SECONDS = 20
HTTP_TIMEOUT = 10
MAX_SIGN_IN_STEPS = 12
# The device pages' last words: approved, or aborted at the confirmation (oidc-provider's texts).
_DEVICE_DONE = re.compile(r"Sign-in Success|The Sign-in request was interrupted")


class SignInError(Exception):
    """The sign-in ended on a page that is neither a form to fill in nor a redirect: usually
    oidc-provider's error page (`text` names the error, e.g. `invalid_redirect_uri`)."""

    def __init__(self, status_code: int, text: str) -> None:
        super().__init__(f"the sign-in stopped at HTTP {status_code}: {text[:500]}")
        self.status_code = status_code
        self.text = text


@dataclass(frozen=True)
class OAuthClientRegistration:
    """A client registered at the server (client_secret_basic at the token endpoint)."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: tuple[str, ...] = ()

    @property
    def auth(self) -> tuple[str, str]:
        """HTTP Basic credentials, as httpx takes them."""
        return (self.client_id, self.client_secret)


@dataclass(frozen=True)
class OAuthServer:
    """The running server: its endpoints (from its discovery document) and test helpers."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    introspection_endpoint: str
    revocation_endpoint: str
    registration_endpoint: str
    userinfo_endpoint: str
    device_authorization_endpoint: str
    log_path: Path  # the server's stderr
    resource_server: OAuthClientRegistration = field(repr=False)  # the client `introspect` uses

    @property
    def smtp_resource(self) -> str:
        """The resource indicator (and `aud` of the access tokens) of the `smtp.send` scope."""
        return f"{self.issuer}/smtp"

    async def register_client(
        self,
        redirect_uris: Sequence[str],
        *,
        access_token_ttl: int = 3600,
        grant_types: Sequence[str] = CODE_FLOW_GRANTS,
        roles: Sequence[str] | None = None,
        auth_method: str = "client_secret_basic",
        device: DeviceOptions | None = None,
    ) -> OAuthClientRegistration:
        """Register a confidential web client by dynamic client registration. `roles`: the
        Application permissions granted to it (its app-only tokens carry them, as Entra's do). With
        `device`, the client may also sign in with a code (RFC 8628), polled as `device` says."""
        metadata = _registration(redirect_uris, access_token_ttl, grant_types)
        metadata["token_endpoint_auth_method"] = auth_method
        if roles is not None:
            metadata["roles"] = list(roles)
        if device is not None:
            metadata["grant_types"].append(DEVICE_GRANT)
            metadata |= device.metadata()
        async with _http_client() as http:
            response = await http.post(self.registration_endpoint, json=metadata)
        return _registered(response)

    async def sign_in(
        self, authorization_url: str, *, login: str = DEFAULT_LOGIN, consent: bool = True
    ) -> str:
        """Go through the authorization request as a browser would: sign in as `login` (any
        password), then consent, or with `consent=False` abort at the consent page. Returns the
        final redirect to the client's redirect URI, with `code` and `state` (or
        `error=access_denied`), without following it. Raises `SignInError` on an error page."""
        redirect_uri = _query_value(authorization_url, "redirect_uri")
        async with _http_client() as browser:  # one browser: it keeps the session cookies
            response = await browser.get(authorization_url)
            for _ in range(MAX_SIGN_IN_STEPS):
                if response.is_redirect:
                    location = urljoin(str(response.url), response.headers["location"])
                    if self._leaves_server(location, redirect_uri):
                        return location
                    response = await browser.get(location)
                    continue
                page = _InteractionPage.parse(response)
                if page.prompt == "consent" and not consent:
                    response = await browser.get(page.abort_url)
                else:
                    response = await browser.post(page.action, data=page.answer(login))
        raise SignInError(response.status_code, "too many steps: " + response.text)

    async def approve_device(
        self, verification_uri_complete: str, *, login: str = DEFAULT_LOGIN, approve: bool = True
    ) -> None:
        """The administrator on another device: open the address with the code in it, confirm the
        code and sign in as `login` and consent; or with `approve=False`, abort at the code's
        confirmation. Drives oidc-provider's own device pages; `SignInError` on an error page."""
        async with _http_client() as browser:  # one browser: it keeps the session cookies
            response = await browser.get(verification_uri_complete)
            for _ in range(MAX_SIGN_IN_STEPS):
                if response.is_redirect:
                    response = await browser.get(urljoin(str(response.url), response.headers["location"]))
                elif _DEVICE_DONE.search(response.text):
                    return
                elif (form := _DeviceForm.parse(response)) is not None:
                    response = await browser.post(form.action, data=form.answer(approve=approve))
                else:
                    page = _InteractionPage.parse(response)
                    response = await browser.post(page.action, data=page.answer(login))
        raise SignInError(response.status_code, "too many steps: " + response.text)

    async def introspect(self, token: str) -> dict[str, Any]:
        """What the server says about `token` (RFC 7662): `active`, `sub`, `client_id`, `scope`..."""
        async with _http_client() as http:
            response = await http.post(
                self.introspection_endpoint, auth=self.resource_server.auth, data={"token": token}
            )
        response.raise_for_status()
        return dict(response.json())

    async def revoke(
        self,
        token: str,
        client: OAuthClientRegistration,
        *,
        token_type_hint: str = "refresh_token",  # noqa: S107 (a kind of token, not a token)
    ) -> None:
        """Revoke `token` as `client` (RFC 7009). Revoking a refresh token revokes its grant."""
        async with _http_client() as http:
            response = await http.post(
                self.revocation_endpoint,
                auth=client.auth,
                data={"token": token, "token_type_hint": token_type_hint},
            )
        response.raise_for_status()

    def _leaves_server(self, location: str, redirect_uri: str | None) -> bool:
        if redirect_uri is not None:
            return location.startswith(redirect_uri)
        return _origin(location) != _origin(self.issuer)


def introspection_validator(server: OAuthServer) -> Callable[[str, str], Awaitable[bool]]:
    """A `token_validator` for `SmtpServerOptions`: the token is good when `server` says it is
    active and its `sub` or `email` is the username."""

    async def validate(username: str, token: str) -> bool:
        claims = await server.introspect(token)
        return claims.get("active") is True and username in (claims.get("sub"), claims.get("email"))

    return validate


# --- the server process ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def oauth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OAuthServer]:
    node = shutil.which("node")
    if node is None or not (SERVER_DIR / "node_modules" / "oidc-provider").is_dir():
        if os.environ.get("ALERTMAIL_REQUIRE_OAUTH_SERVER") == "1":
            pytest.fail(MISSING_REASON)
        pytest.skip(MISSING_REASON)
    log_path = tmp_path_factory.mktemp("oauth_server") / "server.log"
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            [node, str(SERVER_DIR / "server.mjs")],
            cwd=SERVER_DIR,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        ) as process,
    ):
        try:
            issuer = _read_issuer(process, log_path)
            yield _discover(issuer, log_path)
        finally:
            _stop(process)


def _read_issuer(process: subprocess.Popen[str], log_path: Path) -> str:
    """The issuer from the one JSON line the server prints once it listens."""
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=STARTUP_SECONDS)
        return str(json.loads(line)["issuer"])
    except (queue.Empty, ValueError, KeyError) as exc:
        _stop(process)
        log = log_path.read_text(errors="replace")[-3000:]
        pytest.fail(f"the OAuth2 server in {SERVER_DIR} did not start ({exc!r}); its stderr:\n{log}")


def _discover(issuer: str, log_path: Path) -> OAuthServer:
    with httpx.Client(trust_env=False, timeout=HTTP_TIMEOUT) as http:
        metadata = http.get(f"{issuer}/.well-known/openid-configuration").raise_for_status().json()
        resource_server = _registered(
            http.post(
                metadata["registration_endpoint"],
                json=_registration([], 3600, ["client_credentials"]) | {"client_name": "SMTP sink"},
            )
        )
    return OAuthServer(
        issuer=metadata["issuer"],
        authorization_endpoint=metadata["authorization_endpoint"],
        token_endpoint=metadata["token_endpoint"],
        introspection_endpoint=metadata["introspection_endpoint"],
        revocation_endpoint=metadata["revocation_endpoint"],
        registration_endpoint=metadata["registration_endpoint"],
        userinfo_endpoint=metadata["userinfo_endpoint"],
        device_authorization_endpoint=metadata["device_authorization_endpoint"],
        log_path=log_path,
        resource_server=resource_server,
    )


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- HTTP ---------------------------------------------------------------------------------------


def _http_client() -> httpx.AsyncClient:
    """A fresh client: never one shared between event loops, never a proxy from the environment."""
    return httpx.AsyncClient(trust_env=False, timeout=HTTP_TIMEOUT)


def _registration(
    redirect_uris: Sequence[str], access_token_ttl: int, grant_types: Sequence[str]
) -> dict[str, Any]:
    return {
        "redirect_uris": list(redirect_uris),
        "grant_types": list(grant_types),
        "response_types": ["code"] if "authorization_code" in grant_types else [],
        "token_endpoint_auth_method": "client_secret_basic",
        "access_token_ttl": access_token_ttl,
    }


def _registered(response: httpx.Response) -> OAuthClientRegistration:
    if response.status_code != httpx.codes.CREATED:
        raise AssertionError(f"client registration refused: HTTP {response.status_code} {response.text}")
    client = response.json()
    return OAuthClientRegistration(
        client["client_id"], client["client_secret"], tuple(client.get("redirect_uris", ()))
    )


def _query_value(url: str, name: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc)


@dataclass(frozen=True)
class DeviceOptions:
    """How the server treats a client's device sign-ins (see tests/oauth_server/server.mjs)."""

    code_ttl: int = 600  # seconds a device code lives
    poll_interval: float | None = None  # announced; None: the RFC's default of 5 s
    min_poll_gap: float | None = None  # polls closer than this get slow_down; None: never

    def metadata(self) -> dict[str, Any]:
        found = {
            "device_code_ttl": self.code_ttl,
            "device_poll_interval": self.poll_interval,
            "device_min_poll_gap": self.min_poll_gap,
        }
        return {name: value for name, value in found.items() if value is not None}


class _DeviceForm(HTMLParser):
    """One of oidc-provider's device pages: the form that posts the code on (its hidden fields),
    or the confirmation form (`confirm=yes`). None for any other page."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self.action = ""
        self.fields: dict[str, str] = {}
        self._in_form = False

    @classmethod
    def parse(cls, response: httpx.Response) -> _DeviceForm | None:
        form = cls(str(response.url))
        form.feed(response.text)
        if response.status_code != httpx.codes.OK:
            raise SignInError(response.status_code, response.text)
        return form if "user_code" in form.fields else None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.action = urljoin(self._url, attributes.get("action") or "")
        elif tag == "input" and attributes.get("type") == "hidden" and attributes.get("name"):
            self.fields[attributes["name"] or ""] = attributes.get("value") or ""

    def answer(self, *, approve: bool) -> dict[str, str]:
        """The form's own fields; to decline, the confirmation is answered with `abort` instead."""
        if approve or "confirm" not in self.fields:
            return dict(self.fields)
        return {name: value for name, value in self.fields.items() if name != "confirm"} | {"abort": "yes"}


class _InteractionPage(HTMLParser):
    """A page of oidc-provider's development interactions: the login form (`prompt=login`) or the
    consent form (`prompt=consent`), each with an abort link."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self.action = ""
        self.prompt = ""
        self.abort_url = ""

    @classmethod
    def parse(cls, response: httpx.Response) -> _InteractionPage:
        page = cls(str(response.url))
        page.feed(response.text)
        if response.status_code != httpx.codes.OK or page.prompt not in ("login", "consent"):
            raise SignInError(response.status_code, response.text)
        return page

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.action = urljoin(self._url, attributes.get("action") or "")
        elif tag == "input" and attributes.get("name") == "prompt":
            self.prompt = attributes.get("value") or ""
        elif tag == "a" and (attributes.get("href") or "").endswith("/abort"):
            self.abort_url = urljoin(self._url, attributes.get("href") or "")

    def answer(self, login: str) -> dict[str, str]:
        if self.prompt == "login":
            return {"prompt": "login", "login": login, "password": "any password"}
        return {"prompt": "consent"}


# --- a relay that checks tokens with this server --------------------------------------------------

LOGIN = "relay-user@example.com"  # the account `sign_in` logs in as by default


class RecordingValidator:
    """The relay's token check by introspection, keeping every token presented (for leak searches)."""

    def __init__(self, check: Callable[[str, str], Awaitable[bool]]) -> None:
        self._check = check
        self.presented: list[str] = []

    async def __call__(self, username: str, token: str) -> bool:
        self.presented.append(token)
        return await self._check(username, token)


async def relay_for(
    smtp_server_factory: SmtpServerFactory, oauth_server: OAuthServer
) -> tuple[SmtpSink, RecordingValidator]:
    """A STARTTLS relay requiring AUTH XOAUTH2 whose tokens `oauth_server` must find active."""
    validator = RecordingValidator(introspection_validator(oauth_server))
    sink = await smtp_server_factory(
        tls="starttls",
        require_starttls=True,
        auth_required=True,
        auth_mechanisms=("XOAUTH2",),
        token_validator=validator,
    )
    return sink, validator
