"""Delivery through a mail API over HTTPS: Microsoft Graph `sendMail` and the Gmail API `messages/send`.

The message alertmail built is sent as it is, as MIME (Message-ID, both parts and every header
kept); only recipients its headers do not name are added as Bcc, since both APIs take the
recipients from the headers. The API accepts or refuses the whole message: every recipient shares
the outcome.

An access token is asked of the token service right before each request (it refreshes ahead of
expiry, under its locks); a 401 gets one fresh token and one more try before it counts.

Graph allows 4 requests in flight per mailbox. The delivery worker keeps that for the whole cluster
(its lanes hold at most `MAILBOX_CONCURRENCY` of the cluster's connection tokens, see
domain/mail_api.py `connection_limit`); the semaphore here also counts what takes no token (test
e-mails), within this process.
httpx's and the socket layer's exceptions are translated here, the one place that knows them.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from alertmail.adapters.header_recipients import addressed_to
from alertmail.adapters.smtp_errors import Where, translate
from alertmail.adapters.smtp_transport import tls_context
from alertmail.domain.mail_api import (
    MAILBOX_CONCURRENCY,
    api_error,
    gmail_request_body,
    graph_request_body,
    probe_passed,
)
from alertmail.domain.ports import AccessTokenSource
from alertmail.domain.settings import MailSettings
from alertmail.domain.transport_security import endpoint_problem
from alertmail.errors import AlertmailError, ApiReplyError, TransportError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ApiRequest",
    "MailApiSession",
    "MailApiTransport",
    "gmail_request",
    "graph_request",
    "probe_url",
]

_READ_TIMEOUT = 60.0  # seconds for the API to answer once connected (a 4 MB upload included)


@dataclass(frozen=True)
class ApiRequest:
    """One send request: where it goes, its body and content type. Holds no token."""

    url: str
    body: bytes
    content_type: str


def graph_request(mime: bytes, settings: MailSettings) -> ApiRequest:
    """`POST {graph_endpoint}/v1.0/users/{mailbox}/sendMail`, the MIME message base64 as text/plain."""
    mailbox = quote(settings.username, safe="@")
    url = f"{settings.graph_endpoint}/v1.0/users/{mailbox}/sendMail"
    return ApiRequest(url, graph_request_body(mime), "text/plain")


def gmail_request(mime: bytes, settings: MailSettings) -> ApiRequest:
    """`POST {gmail_endpoint}/gmail/v1/users/me/messages/send` with `{"raw": base64url(MIME)}`."""
    url = f"{settings.gmail_endpoint}/gmail/v1/users/me/messages/send"
    return ApiRequest(url, gmail_request_body(mime), "application/json")


RequestBuilder = Callable[[bytes, MailSettings], ApiRequest]


def probe_url(api: str, settings: MailSettings) -> str:
    """The read a probe makes: one that sends nothing, changes nothing and needs no permission.

    Neither API has a request a sender's token (Mail.Send / gmail.send alone) may make without
    sending, so the probe reads what a send reaches, the mailbox, and takes the refusal for want
    of a read permission as proof: the API answered over TLS and accepted the token before refusing
    (see domain/mail_api.probe_passed). Graph: the mailbox's id only (`$select`: a tiny answer
    when the app may read users); Gmail: the account's profile."""
    if api == "graph":
        return f"{settings.graph_endpoint}/v1.0/users/{quote(settings.username, safe='@')}?$select=id"
    return f"{settings.gmail_endpoint}/gmail/v1/users/me/profile"


class MailApiTransport:
    """Implements the `MailTransport` port for one API (`graph` or `gmail_api`).

    `transport` lets a test route requests elsewhere (an httpx transport); production uses the
    network, with the system's trust store plus the configured Trusted CA.
    """

    def __init__(
        self,
        api: str,
        build: RequestBuilder,
        *,
        tokens: AccessTokenSource,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.api = api
        self._build = build
        self._tokens = tokens
        self._clock = clock
        self._transport = transport
        self._mailboxes: dict[tuple[str, str], asyncio.Semaphore] = {}

    async def send(self, message: EmailMessage, recipients: Sequence[str], settings: MailSettings) -> None:
        session = await self.open_session(settings)
        try:
            await session.send(message, recipients)
        finally:
            await session.close()

    async def open_session(self, settings: MailSettings) -> MailApiSession:
        """An HTTP client for these settings; no request is made until the first message."""
        # The system trust store plus the Trusted CA (a proxy that inspects HTTPS), off the event loop.
        context = await asyncio.to_thread(tls_context, settings.tls_trusted_ca)
        return MailApiSession(self, settings, self._client(settings, context))

    def _client(self, settings: MailSettings, context: ssl.SSLContext) -> httpx.AsyncClient:
        import httpx  # here: a box that sends over SMTP never loads it for sending

        timeout = httpx.Timeout(_READ_TIMEOUT, connect=settings.connect_timeout)
        # No redirect is followed: a bearer token goes to the configured endpoint and nowhere else.
        return httpx.AsyncClient(
            timeout=timeout, verify=context, transport=self._transport, follow_redirects=False
        )

    async def probe(self, settings: MailSettings) -> None:
        """What a send needs, without sending: a token from the token service (app-only or the
        stored sign-in, refreshed as for a send) and the API's acceptance of it over TLS; raises
        the `TransportError` a send would (a refused connection, a 503, a token refused twice)."""
        url = probe_url(self.api, settings)
        problem = endpoint_problem(url)
        if problem is not None:
            raise TransportError(
                f"{self._endpoint_field} {problem}", host=urlsplit(url).hostname, stage="api"
            )
        context = await asyncio.to_thread(tls_context, settings.tls_trusted_ca)
        async with self._client(settings, context) as client:
            token = await self._tokens.access_token(settings)
            try:
                await self._read(client, url, token, settings)
            except ApiReplyError as refused:
                if refused.http_status != 401:
                    raise
                fresh = await self._tokens.access_token(settings, force_refresh=True)
                await self._read(client, url, fresh, settings)

    async def _read(self, client: httpx.AsyncClient, url: str, token: str, settings: MailSettings) -> None:
        with self._translated(url, settings):
            response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
            if response.is_success:
                return
            text = (await response.aread()).decode("utf-8", errors="replace")[:20_000]
        error = api_error(
            self.api,
            response.status_code,
            text,
            dict(response.headers),
            now=self._clock(),
            host=urlsplit(url).hostname,
        )
        if not probe_passed(self.api, error):
            raise error

    def mailbox_slots(self, settings: MailSettings) -> asyncio.Semaphore:
        key = (self._endpoint(settings), settings.username.lower())
        if key not in self._mailboxes:
            self._mailboxes[key] = asyncio.Semaphore(MAILBOX_CONCURRENCY)
        return self._mailboxes[key]

    def _endpoint(self, settings: MailSettings) -> str:
        return settings.graph_endpoint if self.api == "graph" else settings.gmail_endpoint

    @property
    def _endpoint_field(self) -> str:
        return "graph_endpoint" if self.api == "graph" else "gmail_endpoint"

    async def post(self, client: httpx.AsyncClient, message: EmailMessage, settings: MailSettings) -> None:
        """Send one message: a token, the request, and once more with a fresh token after a 401."""
        request = self._build(message.as_bytes(policy=message.policy.clone(linesep="\r\n")), settings)
        problem = endpoint_problem(request.url)
        if problem is not None:  # settings saved before the rule: the last guard before a token leaves
            raise TransportError(
                f"{self._endpoint_field} {problem}", host=urlsplit(request.url).hostname, stage="api"
            )
        async with self.mailbox_slots(settings):
            token = await self._tokens.access_token(settings)
            try:
                await self._request(client, request, token, settings)
            except ApiReplyError as refused:
                if refused.http_status != 401:
                    raise
                # The API refused a token we hold (expired early, revoked, another audience): one
                # fresh token, one more try; if that fails too, the refusal is about the account.
                fresh = await self._tokens.access_token(settings, force_refresh=True)
                await self._request(client, request, fresh, settings)
        await self._tokens.token_accepted(settings)

    async def _request(
        self, client: httpx.AsyncClient, request: ApiRequest, token: str, settings: MailSettings
    ) -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": request.content_type}
        with self._translated(request.url, settings):
            response = await client.post(request.url, content=request.body, headers=headers)
            if response.is_success:
                return
            text = (await response.aread()).decode("utf-8", errors="replace")[:20_000]
        raise api_error(
            self.api,
            response.status_code,
            text,
            dict(response.headers),
            now=self._clock(),
            host=urlsplit(request.url).hostname,
        )

    @contextmanager
    def _translated(self, url: str, settings: MailSettings) -> Iterator[None]:
        import httpx

        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            yield
        except AlertmailError:
            raise
        except (httpx.HTTPError, OSError) as exc:
            connecting = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            where = Where(
                parts.hostname or "", port, settings.connect_timeout, "connect" if connecting else "api"
            )
            error = translate(exc, where)
            # "api_connect" / "api": the classifier's hints then speak of the API's endpoint.
            error.stage = "api_connect" if connecting else "api"
            raise error from exc


class MailApiSession:
    """An open HTTP client that sends message after message through the API."""

    def __init__(
        self, transport: MailApiTransport, settings: MailSettings, client: httpx.AsyncClient
    ) -> None:
        self._transport = transport
        self._settings = settings
        self._client = client

    @property
    def usable(self) -> bool:
        return not self._client.is_closed

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> dict[str, TransportError]:
        """The API takes the message for every recipient or refuses it for all: none refused alone.

        A message whose headers name an address that is not a recipient raises ValueError: the
        API would deliver to it too."""
        addressed = addressed_to(message, recipients)
        await self._transport.post(self._client, addressed, self._settings)
        return {}

    async def close(self) -> None:
        await self._client.aclose()
