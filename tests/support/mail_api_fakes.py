"""Stand-ins for Microsoft Graph `sendMail` and the Gmail API `messages/send`, as real HTTP servers.

`MailApiFake` answers on 127.0.0.1 (port 0, uvicorn on the test's own event loop, see
`provider_fakes.serving`) with the paths, status codes, headers and bodies of the real services
(`mail_api_errors` says where each comes from):

- Graph: `POST /v1.0/users/{mailbox}/sendMail`, `Content-Type: text/plain`, the MIME message in
  base64: `202 Accepted` with an empty body and Graph's `request-id`, `client-request-id` and `Date`
  headers. A body that is no base64 gets `400 ErrorMimeContentInvalidBase64String`, one over 4 MB
  `413 RequestEntityTooLarge`.
- Gmail: `POST /gmail/v1/users/me/messages/send`, `{"raw": base64url(MIME)}`: `200` with
  `{"id", "threadId", "labelIds": ["SENT"]}`.
- The reads a probe makes (`GRAPH_PROBE`, `GMAIL_PROBE`): with a good token, the refusal an app
  holding only Mail.Send (Graph: `403 Authorization_RequestDenied` "Insufficient privileges to
  complete the operation.", as Graph answers a directory read without User.Read.All) or only
  gmail.send (`403 insufficientPermissions`, ACCESS_TOKEN_SCOPE_INSUFFICIENT) gets; the token check
  and the scripted failures come first, as for a send.

A bearer token is checked by `token_check` (an async callable: the provider fake's issued tokens,
or the real OAuth server's introspection); a refused one gets `401 InvalidAuthenticationToken`
(Graph) or `401 authError` (Gmail), as the services answer. Scripting: `fail_next(key, times=1)`
answers the next requests with a catalogue entry, `fail_always(key)` every request until
`fail_always(None)`; `hold` (an `asyncio.Event`) holds requests in flight, and `max_in_flight`
counts the most requests seen at once per mailbox. What arrived is in `fake.received`, decoded.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import secrets
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.mail_api_errors import (
    GMAIL_ERRORS,
    GRAPH_ERRORS,
    gmail_error_body,
    graph_error_body,
    graph_headers,
)
from tests.support.provider_fakes import serving

__all__ = ["GMAIL_PROBE", "GRAPH_PROBE", "MailApiFake", "ReceivedMail", "mail_api_fake"]

GRAPH_MAX_BYTES = 4 * 1024 * 1024
GRAPH_PROBE = "/v1.0/users/{mailbox}"
GMAIL_PROBE = "/gmail/v1/users/me/profile"
TokenCheck = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True)
class ReceivedMail:
    """One message an API accepted. Its repr names the API and the mailbox, never the token."""

    api: str
    mailbox: str
    message: EmailMessage
    mime: bytes
    token: str = field(repr=False)
    request_id: str = ""


async def _any_token(token: str) -> bool:
    return bool(token)


class MailApiFake:
    """Graph's and Gmail's send endpoints on one local server."""

    def __init__(self, token_check: TokenCheck = _any_token) -> None:
        self.token_check = token_check
        self.received: list[ReceivedMail] = []
        self.attempts: list[tuple[str, str]] = []  # (api, path) of every request, accepted or not
        self.bearer_tokens: list[str] = []  # the access token of every request, in order
        self.hold: asyncio.Event | None = None
        self.max_in_flight = 0
        self._in_flight: dict[str, int] = {}
        self._next: deque[str] = deque()
        self._always: str | None = None
        self._base_url: str | None = None

    # --- URLs and scripting

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the mail API fake is not serving: use the mail_api_fake fixture")
        return self._base_url

    def fail_next(self, key: str, times: int = 1) -> None:
        """Answer the next `times` requests with this GRAPH_ERRORS / GMAIL_ERRORS entry."""
        self._check_key(key)
        self._next.extend([key] * times)

    def fail_always(self, key: str | None) -> None:
        if key is not None:
            self._check_key(key)
        self._always = key

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1.0/users/{mailbox}/sendMail", self._graph_send, methods=["POST"]),
                Route("/gmail/v1/users/me/messages/send", self._gmail_send, methods=["POST"]),
                Route(GRAPH_PROBE, self._graph_read, methods=["GET"]),
                Route(GMAIL_PROBE, self._gmail_read, methods=["GET"]),
            ]
        )

    @contextlib.contextmanager
    def _serving_at(self, base_url: str) -> Iterator[None]:
        self._base_url = base_url
        try:
            yield
        finally:
            self._base_url = None

    @staticmethod
    def _check_key(key: str) -> None:
        if key not in GRAPH_ERRORS and key not in GMAIL_ERRORS:
            raise KeyError(f"{key} is in neither GRAPH_ERRORS nor GMAIL_ERRORS")

    def _scripted(self) -> str | None:
        return self._next.popleft() if self._next else self._always

    @contextlib.asynccontextmanager
    async def _in_flight_for(self, mailbox: str) -> AsyncIterator[None]:
        self._in_flight[mailbox] = self._in_flight.get(mailbox, 0) + 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight[mailbox])
        try:
            if self.hold is not None:
                await self.hold.wait()
            yield
        finally:
            self._in_flight[mailbox] -= 1

    async def _token(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        self.bearer_tokens.append(token)  # which audience each request's token had: token_scopes
        if scheme.lower() != "bearer" or not await self.token_check(token):
            return None
        return token

    # --- Graph

    async def _graph_send(self, request: Request) -> Response:
        mailbox = request.path_params["mailbox"]
        self.attempts.append(("graph", request.url.path))
        request_id = str(uuid.uuid4())
        async with self._in_flight_for(mailbox):
            body = await request.body()
            token = await self._token(request)
            if token is None:
                return self._graph_refusal("InvalidAuthenticationToken", request_id)
            scripted = self._scripted()
            if scripted is not None:
                return self._graph_refusal(scripted, request_id)
            if len(body) > GRAPH_MAX_BYTES:
                return self._graph_refusal("RequestEntityTooLarge", request_id)
            if not request.headers.get("content-type", "").startswith("text/plain"):
                return self._graph_refusal("ErrorMimeContentInvalidBase64String", request_id)
            try:
                mime = base64.b64decode(body, validate=True)
            except binascii.Error:
                return self._graph_refusal("ErrorMimeContentInvalidBase64String", request_id)
            self.received.append(ReceivedMail("graph", mailbox, _parsed(mime), mime, token, request_id))
        return Response(status_code=202, headers=graph_headers(request_id))

    async def _graph_read(self, request: Request) -> Response:
        self.attempts.append(("graph", request.url.path))
        request_id = str(uuid.uuid4())
        if await self._token(request) is None:
            return self._graph_refusal("InvalidAuthenticationToken", request_id)
        return self._graph_refusal(self._scripted() or "Authorization_RequestDenied", request_id)

    def _graph_refusal(self, key: str, request_id: str) -> Response:
        spec = GRAPH_ERRORS[key]
        headers = graph_headers(request_id) | spec.headers
        return JSONResponse(graph_error_body(spec, request_id), status_code=spec.status, headers=headers)

    # --- Gmail

    async def _gmail_send(self, request: Request) -> Response:
        self.attempts.append(("gmail_api", request.url.path))
        async with self._in_flight_for("me"):
            body = await request.body()
            token = await self._token(request)
            if token is None:
                return self._gmail_refusal("authError")
            scripted = self._scripted()
            if scripted is not None:
                return self._gmail_refusal(scripted)
            raw = _raw_of(body)
            if raw is None:
                return self._gmail_refusal("invalidArgument")
            self.received.append(ReceivedMail("gmail_api", "me", _parsed(raw), raw, token))
        message_id = secrets.token_hex(8)
        return JSONResponse({"id": message_id, "threadId": message_id, "labelIds": ["SENT"]})

    async def _gmail_read(self, request: Request) -> Response:
        self.attempts.append(("gmail_api", request.url.path))
        if await self._token(request) is None:
            return self._gmail_refusal("authError")
        return self._gmail_refusal(self._scripted() or "insufficientPermissions")

    def _gmail_refusal(self, key: str) -> Response:
        spec = GMAIL_ERRORS[key]
        headers = {"Vary": "Origin, X-Origin, Referer"} | spec.headers
        return Response(
            json.dumps(gmail_error_body(spec), indent=2),
            spec.status,
            headers,
            "application/json; charset=UTF-8",
        )


def _raw_of(body: bytes) -> bytes | None:
    try:
        document: Any = json.loads(body)
        raw = document["raw"]
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


def _parsed(mime: bytes) -> EmailMessage:
    message = message_from_bytes(mime, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture
async def mail_api_fake() -> AsyncIterator[MailApiFake]:
    """A running `MailApiFake` that takes any bearer token; set `token_check` to be strict."""
    async with serving(MailApiFake()) as fake:
        yield fake
