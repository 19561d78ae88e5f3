"""SMTP servers for tests: aiosmtpd on 127.0.0.1 port 0, trustme certificates.

Servers run on the test's own event loop (`loop.create_server`, port 0), so there are no threads
and every connection is closed before the loop is. Use them through the fixtures:

- `tls_ca` (session): the `trustme.CA`; `tls_ca_pem`: its PEM text, for `tls_trusted_ca`;
  `tls_server_cert` (session): a certificate for "localhost" and 127.0.0.1;
  `server_tls_context`: a server context with that certificate.
- `smtp_server_factory`: `await smtp_server_factory(**options)` starts an `SmtpSink` with the
  `SmtpServerOptions` named (plus `tls_context=` to present another certificate); every server it
  started is stopped after the test.
- `smtp_server`: a started plain sink (no TLS, AUTH not offered in clear).
- `refused_port`: a port on 127.0.0.1 where nothing listens.

Helpers: `relay_settings(sink, **changes)` builds `MailSettings` pointing at a sink;
`alert_message(...)` builds an `EmailMessage`; `server_context(cert)`; `user_unknown(address)`.

AUTH offers LOGIN and PLAIN by default; XOAUTH2 and OAUTHBEARER on request
(`auth_mechanisms=("XOAUTH2",)`). The aiosmtpd internals live in `tests/support/smtp_sink.py`.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Literal, cast

import pytest
import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from alertmail.domain.settings import MailSettings, validate_settings
from tests.support.smtp_sink import (
    AuthAttempt,
    ReceivedMessage,
    RecordingSMTP,
    ScriptedProtocol,
    SinkHandler,
    SmtpCommand,
    encrypted,
)

__all__ = [
    "AUTH_UNSUCCESSFUL",
    "CONTENT_REJECTED",
    "TRY_AGAIN_LATER",
    "AuthAttempt",
    "ReceivedMessage",
    "SmtpCommand",
    "SmtpServerFactory",
    "SmtpServerOptions",
    "SmtpSink",
    "TokenValidator",
    "alert_message",
    "relay_settings",
    "server_context",
    "user_unknown",
]

HOST = "127.0.0.1"
TRY_AGAIN_LATER = "421 4.7.0 Try again later"
AUTH_UNSUCCESSFUL = "535 5.7.3 Authentication unsuccessful"
CONTENT_REJECTED = "554 5.7.1 Message rejected due to content policy"
# aiosmtpd's two, and the sink's bearer-token two (see tests/support/smtp_sink.py)
MECHANISMS = frozenset({"LOGIN", "PLAIN", "XOAUTH2", "OAUTHBEARER"})

TokenValidator = Callable[[str, str], Awaitable[bool]]  # (username, bearer token) -> accepted


def user_unknown(address: str) -> str:
    """The RCPT reply of a server that does not know `address`."""
    return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"


@dataclass(frozen=True)
class SmtpServerOptions:
    """How an `SmtpSink` behaves. The defaults: plain SMTP that accepts every message."""

    tls: Literal["none", "implicit", "starttls"] = "none"
    require_starttls: bool = False  # answer 530 to everything but EHLO/STARTTLS/QUIT before TLS
    auth_required: bool = False  # answer 530 to MAIL before a successful AUTH
    auth_require_tls: bool = True  # offer AUTH only over TLS (False: offer it in clear too)
    auth_mechanisms: tuple[str, ...] = ("LOGIN", "PLAIN")  # offer only these (force one)
    username: str = "relay-user"  # the only credentials AUTH accepts
    password: str = "relay-password"
    # XOAUTH2 and OAUTHBEARER accept `access_token` for `username`; or, when set, what
    # `token_validator` accepts (e.g. introspection_validator of tests.support.oauth_server).
    access_token: str = "access-token"
    token_validator: TokenValidator | None = None
    auth_failure_reply: str = AUTH_UNSUCCESSFUL
    greeting: str | None = None  # e.g. TRY_AGAIN_LATER: send this instead of 220, then close
    silent: bool = False  # accept the TCP connection and never say anything
    rcpt_replies: Mapping[str, str] = field(default_factory=dict)  # address -> error reply
    data_reply: str | None = None  # e.g. CONTENT_REJECTED: the reply after the message data
    smtputf8: bool = False  # offer SMTPUTF8 (RFC 6531): internationalized addresses as they are

    def __post_init__(self) -> None:
        unknown = set(self.auth_mechanisms) - MECHANISMS
        if unknown:
            raise ValueError(f"the sink offers only {sorted(MECHANISMS)}, not {sorted(unknown)}")


class SmtpSink:
    """An SMTP server on 127.0.0.1 that records everything it is told.

    `messages`, `commands`, `auth_attempts` and `connections` fill up as clients talk to it.
    Start and stop it with `async with SmtpSink(...)`, or through `smtp_server_factory`.
    """

    host = HOST

    def __init__(
        self, options: SmtpServerOptions | None = None, *, tls_context: ssl.SSLContext | None = None
    ) -> None:
        self.options = options or SmtpServerOptions()
        if self.options.tls != "none" and tls_context is None:
            raise ValueError("a TLS server needs tls_context (see server_context())")
        self.tls_context = tls_context
        self.port = 0
        self.messages: list[ReceivedMessage] = []
        self.commands: list[SmtpCommand] = []
        self.auth_attempts: list[AuthAttempt] = []
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._open: dict[asyncio.BaseProtocol, asyncio.BaseTransport] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._all_closed = asyncio.Event()
        self._all_closed.set()

    # --- what was received ----------------------------------------------------------------

    @property
    def verbs(self) -> list[str]:
        return [command.verb for command in self.commands]

    @property
    def auth_received(self) -> bool:
        """Whether any AUTH command arrived, successful or not."""
        return "AUTH" in self.verbs

    @property
    def auth_before_tls(self) -> bool:
        """Whether an AUTH command arrived on a connection not (yet) encrypted."""
        return any(command.verb == "AUTH" and not command.tls for command in self.commands)

    @property
    def mail_received(self) -> bool:
        return "MAIL" in self.verbs

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> SmtpSink:
        loop = asyncio.get_running_loop()
        implicit = self.tls_context if self.options.tls == "implicit" else None
        self._server = await loop.create_server(self._protocol, HOST, 0, ssl=implicit)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening, drop every open connection and wait until each one has ended."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        await server.wait_closed()
        if not await self._all_ended(within=0.5):  # clients normally hung up already
            for transport in list(self._open.values()):
                cast(asyncio.WriteTransport, transport).abort()
            if not await self._all_ended(within=1):
                # Aborted in the middle of a STARTTLS handshake, a connection never tells
                # aiosmtpd that it was lost: tell it, so that its session task ends.
                for protocol in list(self._open):
                    protocol.connection_lost(None)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _all_ended(self, *, within: float) -> bool:
        try:
            await asyncio.wait_for(self._all_closed.wait(), timeout=within)
        except TimeoutError:
            return False
        return True

    async def __aenter__(self) -> SmtpSink:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- plumbing -------------------------------------------------------------------------

    def _protocol(self) -> asyncio.BaseProtocol:
        self.connections += 1
        if self.options.silent or self.options.greeting is not None:
            return ScriptedProtocol(self, self.options.greeting)
        return RecordingSMTP(self, SinkHandler(self), **self._smtp_options())

    def _smtp_options(self) -> dict[str, Any]:
        starttls = self.options.tls == "starttls"
        return {
            "hostname": "localhost",
            "ident": "alertmail test sink",
            "tls_context": self.tls_context if starttls else None,
            "require_starttls": starttls and self.options.require_starttls,
            # aiosmtpd counts only STARTTLS as TLS: on port 465 AUTH must be allowed "in clear".
            "auth_require_tls": self.options.auth_require_tls and self.options.tls != "implicit",
            "auth_exclude_mechanism": sorted(MECHANISMS - set(self.options.auth_mechanisms)),
            "authenticator": self._authenticate,
            "enable_SMTPUTF8": self.options.smtputf8,
            "loop": asyncio.get_running_loop(),
        }

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        login = cast(LoginPassword, data)
        username = login.login.decode("utf-8", "replace")
        success = (username, login.password.decode("utf-8", "replace")) == (
            self.options.username,
            self.options.password,
        )
        self.auth_attempts.append(AuthAttempt(mechanism, username, success, encrypted(server)))
        if success:
            return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False, message=self.options.auth_failure_reply)

    def _opened(self, protocol: asyncio.BaseProtocol, transport: asyncio.BaseTransport) -> None:
        self._open[protocol] = transport
        self._all_closed.clear()

    def _closed(self, protocol: asyncio.BaseProtocol) -> None:
        self._open.pop(protocol, None)
        if not self._open:
            self._all_closed.set()


# --- settings and messages ----------------------------------------------------------------------

_ENCRYPTION_OF = {"none": "none", "implicit": "tls", "starttls": "starttls"}


def relay_settings(server: SmtpSink | int, **changes: Any) -> MailSettings:
    """Valid settings for sending to `server` (a sink, or a bare port on 127.0.0.1).

    The encryption follows the sink's TLS mode; `changes` override any field.
    """
    port = server if isinstance(server, int) else server.port
    tls = "none" if isinstance(server, int) else server.options.tls
    data: dict[str, Any] = {
        "from_address": "alerts@example.com",
        "email_type": "smtp",
        "hostname": HOST,
        "port": port,
        "encryption": _ENCRYPTION_OF[tls],
        "auth_type": "none",
        "connect_timeout": 5,
    }
    return validate_settings(data | changes)


def alert_message(
    recipients: Sequence[str] = ("admin@example.com",),
    *,
    sender: str = "alerts@example.com",
    subject: str = "Disk almost full",
    body: str = "The data volume is 95% full.\n",
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message.set_content(body)
    return message


def server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    """A server-side TLS context presenting `cert` (with its chain)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


# --- fixtures -------------------------------------------------------------------------------------

SmtpServerFactory = Callable[..., Awaitable[SmtpSink]]


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def tls_ca_pem(tls_ca: trustme.CA) -> str:
    """The CA certificate as PEM text, the form `MailSettings.tls_trusted_ca` takes."""
    return tls_ca.cert_pem.bytes().decode("ascii")


@pytest.fixture(scope="session")
def tls_server_cert(tls_ca: trustme.CA) -> trustme.LeafCert:
    return tls_ca.issue_cert("localhost", HOST)


@pytest.fixture
def server_tls_context(tls_server_cert: trustme.LeafCert) -> ssl.SSLContext:
    return server_context(tls_server_cert)


@pytest.fixture
async def smtp_server_factory(server_tls_context: ssl.SSLContext) -> AsyncIterator[SmtpServerFactory]:
    """`await smtp_server_factory(tls="starttls", auth_required=True, ...)` -> a started SmtpSink."""
    sinks: list[SmtpSink] = []

    async def start(*, tls_context: ssl.SSLContext | None = None, **options: Any) -> SmtpSink:
        sink = SmtpSink(SmtpServerOptions(**options), tls_context=tls_context or server_tls_context)
        sinks.append(sink)
        return await sink.start()

    try:
        yield start
    finally:
        for sink in reversed(sinks):
            await sink.stop()


@pytest.fixture
async def smtp_server(smtp_server_factory: SmtpServerFactory) -> SmtpSink:
    return await smtp_server_factory()


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 that was free a moment ago: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port = cast(int, probe.getsockname()[1])
    yield port
