"""The aiosmtpd side of `tests.support.smtp.SmtpSink`: what it records and how it talks.

Use the sink through `tests.support.smtp`; this module holds its conversation: the records it
keeps, aiosmtpd's SMTP recording each command line, the handler with the failure replies and the
bearer-token mechanisms (XOAUTH2 as Google and Microsoft speak it, OAUTHBEARER of RFC 7628), and
the scripted server that greets and hangs up or never speaks.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, cast

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

if TYPE_CHECKING:
    from tests.support.smtp import SmtpSink

__all__ = [
    "AuthAttempt",
    "ReceivedMessage",
    "RecordingSMTP",
    "ScriptedProtocol",
    "SinkHandler",
    "SmtpCommand",
    "encrypted",
]

# The error challenges a refused bearer token gets, as Google words them.
XOAUTH2_ERROR = {"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"}
OAUTHBEARER_ERROR = {
    "status": "invalid_token",
    "scope": "https://mail.google.com/",
    "openid-configuration": "https://accounts.google.com/.well-known/openid-configuration",
}


@dataclass(frozen=True)
class SmtpCommand:
    """One command line the server received. For AUTH only the mechanism is kept, never the
    credentials; continuation lines (AUTH LOGIN) and message data are not commands."""

    verb: str
    argument: str
    tls: bool  # the connection was encrypted when the command arrived


@dataclass(frozen=True)
class AuthAttempt:
    mechanism: str
    username: str
    success: bool
    tls: bool


@dataclass(frozen=True)
class ReceivedMessage:
    """A message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    tls: bool
    authenticated_as: str | None

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.content, policy=policy.default)


def encrypted(server: SMTP) -> bool:
    transport = server.transport
    return server._tls_protocol is not None or (
        transport is not None and transport.get_extra_info("sslcontext") is not None
    )


class RecordingSMTP(SMTP):
    """aiosmtpd's SMTP, recording each command line before aiosmtpd looks at it.

    Commands are read with `readuntil()` (b"\\n"); message data with `readuntil(b"\\r\\n")` and
    AUTH continuation lines with `readline()`, so only commands are recorded. Recording before
    aiosmtpd's own checks means an AUTH refused for want of TLS is recorded too.
    """

    def __init__(self, sink: SmtpSink, handler: SinkHandler, **options: Any) -> None:
        self._sink = sink
        self._connected = False
        super().__init__(handler, **options)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._connected:  # called again after STARTTLS, with the TLS transport
            self._connected = True
            self._sink._opened(self, transport)
        super().connection_made(transport)
        if self._handler_coroutine is not None and self._handler_coroutine not in self._sink._tasks:
            self._sink._tasks.append(self._handler_coroutine)

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self._sink._closed(self)

    def _cb_client_connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super()._cb_client_connected(reader, writer)
        read_until = reader.readuntil

        async def recording_readuntil(separator: bytes = b"\n") -> bytes:
            line = await read_until(separator)
            if separator == b"\n":
                self._record(line)
            return line

        reader.readuntil = recording_readuntil  # type: ignore[method-assign,assignment]

    def _record(self, line: bytes) -> None:
        verb, _, argument = line.decode("ascii", "replace").strip().partition(" ")
        verb = verb.upper()
        if verb == "AUTH":
            argument = argument.split(" ")[0]  # the mechanism; an initial response is a secret
        self._sink.commands.append(SmtpCommand(verb, argument, encrypted(self)))


class SinkHandler:
    """aiosmtpd handler hooks: the failure replies the options ask for, and the recording."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """XOAUTH2 as Google and Microsoft speak it: on a bad token a 334 error challenge, the
        client's empty answer, then the failure reply."""
        blob = await _initial_response(server, args)
        if blob is None:
            return AuthResult(success=False, handled=True)
        user, _, rest = blob.partition(b"\x01")
        username = _text(user.removeprefix(b"user="))
        identity = await self._check_bearer(server, "XOAUTH2", username, _bearer_token(rest))
        if identity is not None:
            return AuthResult(success=True, auth_data=identity)
        if await server.challenge_auth(json.dumps(XOAUTH2_ERROR, separators=(",", ":"))) is MISSING:
            return AuthResult(success=False, handled=True)  # aiosmtpd answered the bad answer
        return AuthResult(success=False, handled=False, message=self._sink.options.auth_failure_reply)

    async def auth_OAUTHBEARER(self, server: SMTP, args: list[str]) -> AuthResult:
        """OAUTHBEARER (RFC 7628): `n,a=<user>,^Ahost=..^Aport=..^Aauth=Bearer <token>^A^A`; on
        a bad token a 334 error challenge, which the client must answer with a single 0x01."""
        blob = await _initial_response(server, args)
        if blob is None:
            return AuthResult(success=False, handled=True)
        gs2_header, _, rest = blob.partition(b"\x01")
        identity = await self._check_bearer(
            server, "OAUTHBEARER", _gs2_authzid(gs2_header), _bearer_token(rest)
        )
        if identity is not None:
            return AuthResult(success=True, auth_data=identity)
        answer = await server.challenge_auth(json.dumps(OAUTHBEARER_ERROR, separators=(",", ":")))
        if answer is MISSING:
            return AuthResult(success=False, handled=True)  # aiosmtpd answered the bad answer
        if answer != b"\x01":
            await server.push("501 5.5.2 The answer to the error challenge must be a single %x01")
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False, message=self._sink.options.auth_failure_reply)

    async def _check_bearer(
        self, server: SMTP, mechanism: str, username: str, token: str
    ) -> LoginPassword | None:
        """The options' `token_validator` decides, or else the one `access_token` for `username`."""
        options = self._sink.options
        if options.token_validator is None:
            success = (username, token) == (options.username, options.access_token)
        else:
            success = bool(token) and await options.token_validator(username, token)
        self._sink.auth_attempts.append(AuthAttempt(mechanism, username, success, encrypted(server)))
        return LoginPassword(username.encode(), b"") if success else None

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> object:
        if self._sink.options.auth_required and not session.authenticated:
            return "530 5.7.0 Authentication required"
        return MISSING  # aiosmtpd's own handling

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> object:
        return self._sink.options.rcpt_replies.get(address.lower(), MISSING)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self._sink.options.data_reply is not None:
            return self._sink.options.data_reply
        auth = session.auth_data
        self._sink.messages.append(
            ReceivedMessage(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                content=envelope.original_content or b"",
                tls=encrypted(server),
                authenticated_as=auth.login.decode() if isinstance(auth, LoginPassword) else None,
            )
        )
        return "250 2.0.0 OK: queued"


async def _initial_response(server: SMTP, args: list[str]) -> bytes | None:
    """The decoded initial response of `AUTH <mechanism> [response]`, asked for with an empty
    challenge when the client sent none; None when a reply was already sent (bad base64, `*`)."""
    if len(args) < 2:
        answer = await server.challenge_auth(b"", encode_to_b64=False)
        return None if answer is MISSING else answer
    if args[1] == "=":  # RFC 4954: an empty initial response
        return b""
    try:
        return base64.b64decode(args[1], validate=True)
    except ValueError:
        await server.push("501 5.5.2 Can't decode base64")
        return None


def _bearer_token(key_values: bytes) -> str:
    """The token of the `auth=Bearer <token>` field among ^A-separated `key=value` fields."""
    for field in key_values.split(b"\x01"):
        if field.startswith(b"auth=Bearer "):
            return _text(field.removeprefix(b"auth=Bearer "))
    return ""


def _gs2_authzid(gs2_header: bytes) -> str:
    """The `a=` authorization identity of a GS2 header such as `n,a=user@example.com,`."""
    for field in gs2_header.split(b","):
        if field.startswith(b"a="):
            return _text(field[2:]).replace("=2C", ",").replace("=3D", "=")
    return ""


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


class ScriptedProtocol(asyncio.Protocol):
    """A server that says `greeting` and hangs up, or (greeting None) never says anything."""

    def __init__(self, sink: SmtpSink, greeting: str | None) -> None:
        self._sink = sink
        self._greeting = greeting

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._sink._opened(self, transport)
        if self._greeting is not None:
            cast(asyncio.WriteTransport, transport).write(self._greeting.encode() + b"\r\n")
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._sink._closed(self)
