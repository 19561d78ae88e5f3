"""OAuth requests reveal nothing else (#13 item 8), against real sockets on 127.0.0.1: no redirect
is followed to another host, the whole request is bounded by connect_timeout, closed, silent and
non-HTTP ports answer alike, and only a provider's structured error is echoed."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from alertmail.adapters.oauth_client import HttpOAuthClient
from alertmail.domain.settings import MailSettings, validate_settings
from alertmail.errors import OAuthError

Respond = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
SECRET_PAGE_TEXT = "db password is hunter2"


@dataclass
class RawServer:
    """A TCP server on 127.0.0.1 answering every connection with `respond`."""

    respond: Respond
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self.respond(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Respond], Awaitable[RawServer]]]:
    servers: list[asyncio.Server] = []

    async def start(respond: Respond) -> RawServer:
        raw = RawServer(respond)
        server = await asyncio.start_server(raw.serve, "127.0.0.1", 0)
        servers.append(server)
        raw.port = server.sockets[0].getsockname()[1]
        return raw

    yield start
    for server in servers:
        server.close()


def http_answer(status: str, body: str = "", **headers: str) -> Respond:
    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
        writer.write(f"HTTP/1.1 {status}\r\n{head}Content-Length: {len(body)}\r\n\r\n{body}".encode())
        await writer.drain()

    return respond


def recorded(log: list[str]) -> Respond:
    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        log.append(head.decode("latin-1"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()

    return respond


def oauth_settings(token_endpoint: str, authorization_endpoint: str = "", timeout: float = 2) -> MailSettings:
    return validate_settings(
        {
            "from_address": "alerts@example.com", "hostname": "smtp.example.com", "encryption": "starttls",
            "auth_type": "oauth2", "oauth_provider": "custom", "oauth_grant": "client_credentials",
            "client_id": "alertmail", "client_secret": "client-secret-value",
            "username": "alerts@example.com", "scopes": "smtp", "token_endpoint": token_endpoint,
            "connect_timeout": timeout,
            "authorization_endpoint": authorization_endpoint or token_endpoint.replace("token", "authorize"),
        }
    )  # fmt: skip


async def token_error(settings: MailSettings) -> OAuthError:
    with pytest.raises(OAuthError) as caught:
        await HttpOAuthClient().client_credentials(settings)
    return caught.value


async def test_the_token_request_follows_no_redirect_to_another_host(serve: Any) -> None:
    elsewhere: list[str] = []
    other = await serve(recorded(elsewhere))
    moved = await serve(
        http_answer("307 Temporary Redirect", Location=f"http://localhost:{other.port}/token")
    )

    error = await token_error(oauth_settings(f"http://127.0.0.1:{moved.port}/token"))

    assert error.error == "invalid_response" and elsewhere == []  # the secret went nowhere else


async def test_the_preflight_reads_a_redirect_and_does_not_visit_it(serve: Any) -> None:
    elsewhere: list[str] = []
    other = await serve(recorded(elsewhere))
    moved = await serve(http_answer("302 Found", Location=f"http://localhost:{other.port}/login"))

    await HttpOAuthClient().preflight(f"http://127.0.0.1:{moved.port}/authorize?client_id=a", time_limit=2)

    assert elsewhere == []


async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A server that answers one header byte at a time, each well within any read timeout."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    for _ in range(200):
        writer.write(b"a")
        await writer.drain()
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("request_kind", ["token", "preflight"])
async def test_the_whole_request_is_bounded_by_connect_timeout(serve: Any, request_kind: str) -> None:
    slow = await serve(drip)
    settings = oauth_settings(f"http://127.0.0.1:{slow.port}/token", timeout=1)
    started = time.monotonic()
    with pytest.raises(OAuthError) as caught:
        if request_kind == "token":
            await HttpOAuthClient().client_credentials(settings)
        else:
            await HttpOAuthClient().preflight(
                settings.authorization_endpoint, time_limit=settings.connect_timeout
            )
    assert time.monotonic() - started < 3
    assert caught.value.error == "network_error" and "within 1 seconds" in caught.value.description


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(30)


async def smtp_greeting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 mail.internal ESMTP Postfix\r\n")
    await writer.drain()
    await reader.readline()
    writer.write(b"502 5.5.2 Error: command not recognized\r\n")
    await writer.drain()


async def test_closed_silent_and_non_http_ports_answer_alike(serve: Any, refused_port: int) -> None:
    ports = [refused_port, (await serve(silent)).port, (await serve(smtp_greeting)).port]
    answers = set()
    for port in ports:
        with pytest.raises(OAuthError) as caught:
            await HttpOAuthClient().preflight(f"http://127.0.0.1:{port}/authorize", time_limit=1)
        answers.add((caught.value.error, caught.value.description))
    assert answers == {("network_error", "no HTTP answer from 127.0.0.1 within 1 seconds")}


INTERNAL_PAGE = (
    "<html><body><h1>Internal admin</h1><p>error: internal_failure error_description: "
    f"{SECRET_PAGE_TEXT}</p><p>AADSTS-like? no. {SECRET_PAGE_TEXT}</p></body></html>"
)


@pytest.mark.parametrize("status", ["400 Bad Request", "500 Internal Server Error"])
async def test_an_internal_page_is_not_echoed(serve: Any, status: str) -> None:
    internal = await serve(http_answer(status, INTERNAL_PAGE, Content_Type="text/html"))
    url = f"http://127.0.0.1:{internal.port}/token"

    with pytest.raises(OAuthError) as preflight:
        await HttpOAuthClient().preflight(url, time_limit=2)
    token = await token_error(oauth_settings(url))

    for error in (preflight.value, token):
        shown = f"{error} {error.error} {error.description} {error.provider_code}"
        assert SECRET_PAGE_TEXT not in shown and "internal_failure" not in shown
        assert error.http_status == int(status[:3])


async def test_a_structured_provider_error_is_echoed_field_by_field(serve: Any) -> None:
    body = {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided.",
        "error_codes": [7000215],
        "trace_id": "4e7e9611-79bb-4525-a2f8-47212bf25300",
        "internal_note": SECRET_PAGE_TEXT,
    }
    provider = await serve(http_answer("401 Unauthorized", json.dumps(body), Content_Type="application/json"))
    error = await token_error(oauth_settings(f"http://127.0.0.1:{provider.port}/token"))
    assert (error.provider_code, error.trace_id) == ("AADSTS7000215", body["trace_id"])
    assert SECRET_PAGE_TEXT not in f"{error} {error.description}"
