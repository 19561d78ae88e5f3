"""Delivery through an SMTP relay, with aiosmtplib.

The session is driven one command at a time (greeting, EHLO, STARTTLS, EHLO, AUTH, MAIL/RCPT/DATA,
QUIT) rather than by `SMTP.connect()` doing the upgrade and the login itself, for two reasons:

- a required STARTTLS is checked against the server's EHLO reply before anything else is sent, so
  a server that does not offer it gets no AUTH and no MAIL, and the failure is recognised by the
  capability, not by the wording of an aiosmtplib message;
- every error reply can name the command it answered (`SmtpReplyError.stage`).

aiosmtplib's own upgrade is therefore switched off explicitly (`start_tls=False`): its default,
`None`, is opportunistic and would carry on in clear.

Every exception of aiosmtplib, of the socket layer and of ssl is translated into `alertmail.errors`
by `_translate_errors`, the one place that knows them.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import logging
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TypeVar

from aiosmtplib import (
    SMTP,
    SMTPAuthenticationError,
    SMTPConnectResponseError,
    SMTPDataError,
    SMTPException,
    SMTPHeloError,
    SMTPRecipientRefused,
    SMTPRecipientsRefused,
    SMTPResponse,
    SMTPResponseException,
    SMTPSenderRefused,
)

from alertmail.adapters.smtp_envelope import wire_message
from alertmail.domain.ports import AccessTokenSource
from alertmail.domain.settings import MailSettings
from alertmail.errors import (
    AlertmailError,
    ConnectRefusedError,
    ConnectTimeoutError,
    DnsError,
    SmtpReplyError,
    TlsHandshakeError,
    TlsUnavailableError,
    TransportError,
)

__all__ = ["SmtpSession", "SmtpTransport"]

logger = logging.getLogger(__name__)


class SmtpTransport:
    """Hands a message to the configured SMTP relay, or raises a `TransportError`.

    `tokens` is needed only for `auth_type` oauth2: it is asked for an access token right before
    AUTH XOAUTH2 (or OAUTHBEARER when that is all the server offers), which only ever goes over TLS.
    A token the relay refuses with 535 is replaced once by a fresh one before the failure counts.

    Recipients: the message goes to every recipient the server accepts. When the server refuses
    some of them and accepts others, the message is still sent to the accepted ones and then
    `SmtpReplyError` (stage "rcpt") is raised for the first refused one, so the refusal is never
    silent; a retry of the whole message may reach the accepted recipients twice, which the
    at-least-once outbox allows. When every recipient is refused, nothing is sent.
    """

    def __init__(self, *, tokens: AccessTokenSource | None = None) -> None:
        self._tokens = tokens

    async def send(self, message: EmailMessage, recipients: Sequence[str], settings: MailSettings) -> None:
        session = await self.open_session(settings)
        try:
            await session.send(message, recipients)
        finally:
            await session.close()

    async def open_session(self, settings: MailSettings) -> SmtpSession:
        """Connect, upgrade to TLS and authenticate once; the session then sends many messages."""
        if settings.auth_type == "oauth2" and self._tokens is None:
            raise _no_access_token(settings)
        stage = _Stage()
        with _translate_errors(settings, stage):
            client = _client(settings, await _tls_context_for(settings))
            try:
                await _open_session(client, settings, stage)
                await self._authenticate(client, settings, stage)
            except BaseException:
                client.close()
                raise
        return SmtpSession(client, settings)

    async def _authenticate(self, client: SMTP, settings: MailSettings, stage: _Stage) -> None:
        if settings.auth_type == "none":
            return
        stage.name = "auth"
        if settings.auth_type == "basic":
            _check_password_channel(client, settings)
            password = settings.password.get_secret_value() if settings.password else ""
            # aiosmtplib picks the mechanism (CRAM-MD5, PLAIN, LOGIN) from what the server offers.
            await client.login(settings.username, password)
            return
        await self._authenticate_oauth(client, settings)

    async def _authenticate_oauth(self, client: SMTP, settings: MailSettings) -> None:
        tokens = self._tokens
        if tokens is None:  # `send` checks before connecting; this keeps the type checker sure
            raise _no_access_token(settings)
        if settings.encryption == "none" or client.get_transport_info("sslcontext") is None:
            # Validation refuses OAuth2 without TLS; this is the last guard before a token leaves.
            raise TlsUnavailableError(
                "an access token is never sent without TLS", host=settings.hostname, port=settings.port
            )
        mechanism = _bearer_mechanism(client, settings)
        try:
            await mechanism(client, settings, await tokens.access_token(settings))
        except SMTPAuthenticationError as refused:
            if refused.code != 535:
                raise
            # The relay refused a token we hold: it may have been revoked or have expired early.
            # One fresh token, one more try; if that fails too, the refusal is about the account.
            try:
                await mechanism(client, settings, await tokens.access_token(settings, force_refresh=True))
            except SMTPAuthenticationError as again:
                raise SmtpReplyError(
                    again.code, again.message, stage="xoauth2", host=settings.hostname, port=settings.port
                ) from again
        await tokens.token_accepted(settings)


class SmtpSession:
    """An open, authenticated connection to the relay that sends messages one after another.

    Between messages the envelope is reset by aiosmtplib after a refused command, so a refused
    recipient does not spoil the next message. A session the server closed (`usable` is False)
    must be replaced; sending on it raises a `TransportError` like any lost connection.
    """

    def __init__(self, client: SMTP, settings: MailSettings) -> None:
        self._client = client
        self._settings = settings

    @property
    def usable(self) -> bool:
        return self._client.is_connected

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> None:
        stage = _Stage()
        stage.name = "mail"
        with _translate_errors(self._settings, stage):
            wire = wire_message(
                message,
                self._settings.from_address,
                recipients,
                smtputf8=self._client.supports_extension("smtputf8"),
                eight_bit_mime=self._client.supports_extension("8bitmime"),
            )
            refused, _ = await self._client.sendmail(
                wire.sender, wire.recipients, wire.data, mail_options=wire.mail_options
            )
        if refused:
            raise _partly_refused(refused, self._settings)

    async def close(self) -> None:
        if self._client.is_connected:
            await _quit_quietly(self._client)
        self._client.close()


_Mechanism = Callable[[SMTP, MailSettings, str], Awaitable[None]]


def _bearer_mechanism(client: SMTP, settings: MailSettings) -> _Mechanism:
    offered = client.server_auth_methods
    if "xoauth2" in offered:
        return _xoauth2
    if "oauthbearer" in offered:
        return _oauthbearer
    raise TransportError(
        "the server offers neither AUTH XOAUTH2 nor OAUTHBEARER", host=settings.hostname, port=settings.port
    )


async def _xoauth2(client: SMTP, settings: MailSettings, token: str) -> None:
    # aiosmtplib answers the 334 error challenge with an empty line and raises on the final 535.
    await client.auth_xoauth2(settings.username, token)


async def _oauthbearer(client: SMTP, settings: MailSettings, token: str) -> None:
    """RFC 7628. On failure the server sends a 334 error challenge; the client answers ^A."""
    initial = f"n,a={settings.username},\x01host={settings.hostname}\x01port={settings.port}\x01"
    initial += f"auth=Bearer {token}\x01\x01"
    response = await client.execute_command(b"AUTH", b"OAUTHBEARER", base64.b64encode(initial.encode()))
    if response.code == 334:
        response = await client.execute_command(base64.b64encode(b"\x01"))
    if response.code != 235:
        raise SMTPAuthenticationError(response.code, response.message)


def _check_password_channel(client: SMTP, settings: MailSettings) -> None:
    """The last guard before a password leaves: over TLS, or in clear only by explicit consent."""
    if client.get_transport_info("sslcontext") is not None:
        return
    if not settings.allow_plaintext_auth:  # settings saved before the rule; validation refuses it now
        raise TlsUnavailableError(
            "a password is never sent without TLS: choose tls or starttls, or set allow_plaintext_auth",
            host=settings.hostname,
            port=settings.port,
        )
    logger.warning(
        "sending the relay password to %s:%s without encryption (allow_plaintext_auth is set)",
        settings.hostname,
        settings.port,
    )


def _no_access_token(settings: MailSettings) -> TransportError:
    return TransportError(
        "OAuth2 is configured but no access token is available; sign in first",
        host=settings.hostname,
        port=settings.port,
    )


# --- the session ----------------------------------------------------------------------------


class _Stage:
    """The command the session is at, for replies whose exception type does not say it."""

    __slots__ = ("name",)

    def __init__(self) -> None:
        self.name = "connect"


def _client(settings: MailSettings, tls_context: ssl.SSLContext | None) -> SMTP:
    # No credentials here: given to the constructor, `connect()` would log in by itself.
    return SMTP(
        hostname=settings.hostname,
        port=settings.port,
        timeout=settings.connect_timeout,
        use_tls=settings.encryption == "tls",
        start_tls=False,  # never the opportunistic default: `_open_session` upgrades
        tls_context=tls_context,
    )


async def _tls_context_for(settings: MailSettings) -> ssl.SSLContext | None:
    if settings.encryption == "none":
        return None
    # Loading the system trust store reads files: keep it off the event loop.
    return await asyncio.to_thread(_tls_context, settings.tls_trusted_ca)


def _tls_context(trusted_ca_pem: str) -> ssl.SSLContext:
    """The system trust store plus the configured CA; hostname checked, TLS 1.2 at least."""
    context = ssl.create_default_context()
    if trusted_ca_pem.strip():
        context.load_verify_locations(cadata=trusted_ca_pem)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


async def _open_session(client: SMTP, settings: MailSettings, stage: _Stage) -> None:
    stage.name = "connect"
    await client.connect()
    stage.name = "ehlo"
    await _greet(client)
    if settings.encryption != "starttls":
        return
    if not client.supports_extension("starttls"):
        raise TlsUnavailableError(
            "STARTTLS is required but the server does not offer it; nothing was sent",
            host=settings.hostname,
            port=settings.port,
        )
    stage.name = "starttls"
    await client.starttls()
    stage.name = "ehlo"
    await _greet(client)  # RFC 3207: what the server said before TLS no longer counts


async def _greet(client: SMTP) -> None:
    """EHLO, falling back to HELO for a server that does not speak ESMTP."""
    try:
        await client.ehlo()
    except SMTPHeloError:
        if not client.is_connected:
            raise
        await client.helo()


async def _quit_quietly(client: SMTP) -> None:
    # The server has accepted the message: a failing QUIT must not turn that into a failure.
    with suppress(SMTPException, OSError):
        await client.quit()


def _partly_refused(refused: dict[str, SMTPResponse], settings: MailSettings) -> SmtpReplyError:
    first = next(iter(refused.values()))
    return SmtpReplyError(first.code, first.message, stage="rcpt", host=settings.hostname, port=settings.port)


# --- translating exceptions -----------------------------------------------------------------


@dataclass(frozen=True)
class _Where:
    """The facts every translated error carries."""

    host: str
    port: int
    timeout: float
    stage: str


@contextmanager
def _translate_errors(settings: MailSettings, stage: _Stage) -> Iterator[None]:
    """Re-raise what aiosmtplib, the socket layer and ssl raise as `alertmail.errors`."""
    try:
        yield
    except AlertmailError:
        raise  # already ours (ConnectTimeoutError is an OSError too)
    except (SMTPException, OSError, ValueError) as exc:
        where = _Where(settings.hostname, settings.port, settings.connect_timeout, stage.name)
        raise _translate(exc, where) from exc


def _translate(exc: BaseException, where: _Where) -> TransportError:
    for matcher in _MATCHERS:
        error = matcher(exc, where)
        if error is not None:
            return error
    return TransportError(_describe(exc), host=where.host, port=where.port)


_REPLY_STAGES: tuple[tuple[type[SMTPResponseException], str], ...] = (
    (SMTPConnectResponseError, "connect"),
    (SMTPHeloError, "ehlo"),
    (SMTPAuthenticationError, "auth"),
    (SMTPSenderRefused, "mail"),
    (SMTPRecipientRefused, "rcpt"),
    (SMTPDataError, "data"),
)


def _server_reply(exc: BaseException, where: _Where) -> TransportError | None:
    if isinstance(exc, SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]  # every recipient was refused: report the first
    # Code -1 is aiosmtplib's "could not parse the reply": not a reply the server chose.
    if not isinstance(exc, SMTPResponseException) or exc.code < 100:
        return None
    stage = next((name for kind, name in _REPLY_STAGES if isinstance(exc, kind)), where.stage)
    return SmtpReplyError(exc.code, exc.message, stage=stage, host=where.host, port=where.port)


def _timeout(exc: BaseException, where: _Where) -> TransportError | None:
    if _find(exc, TimeoutError) is None:
        return None
    if where.stage == "connect":  # the TCP connection, the TLS of port 465, or the greeting
        return ConnectTimeoutError(_describe(exc), host=where.host, port=where.port, timeout=where.timeout)
    # A reply that never came later in the session: the connection failed part-way.
    return TransportError(_describe(exc), host=where.host, port=where.port, timeout=where.timeout)


def _certificate(exc: BaseException, where: _Where) -> TransportError | None:
    if _find(exc, ssl.SSLCertVerificationError) is None:
        return None
    return TlsHandshakeError(_describe(exc), certificate_invalid=True, host=where.host, port=where.port)


def _tls_handshake(exc: BaseException, where: _Where) -> TransportError | None:
    if _find(exc, ssl.SSLError) is None:
        return None
    return TlsHandshakeError(_describe(exc), host=where.host, port=where.port)


def _dns(exc: BaseException, where: _Where) -> TransportError | None:
    if _find(exc, socket.gaierror) is None:
        return None
    return DnsError(_describe(exc), host=where.host, port=where.port)


def _refused(exc: BaseException, where: _Where) -> TransportError | None:
    if not any(_is_refusal(link) for link in _chain(exc)):
        return None
    return ConnectRefusedError(_describe(exc), host=where.host, port=where.port)


_MATCHERS: tuple[Callable[[BaseException, _Where], TransportError | None], ...] = (
    _server_reply,
    _timeout,
    _certificate,
    _tls_handshake,
    _dns,
    _refused,
)

_E = TypeVar("_E", bound=BaseException)
_ERRNO = re.compile(r"\[Errno (-?\d+)\]")


def _is_refusal(link: BaseException) -> bool:
    if isinstance(link, ConnectionRefusedError):
        return True
    # A name with several addresses (localhost: ::1 and 127.0.0.1) fails on Python 3.11 with one
    # OSError("Multiple exceptions: ...") that keeps only the text of each attempt.
    text = str(link)
    if not isinstance(link, OSError) or not text.startswith("Multiple exceptions:"):
        return False
    return set(_ERRNO.findall(text)) == {str(errno.ECONNREFUSED)}


def _find(exc: BaseException, kind: type[_E]) -> _E | None:
    return next((link for link in _chain(exc) if isinstance(link, kind)), None)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then its causes: aiosmtplib wraps socket and ssl errors in its own."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def _describe(exc: BaseException) -> str:
    """The messages of the exception and its causes: library wording and server replies only."""
    parts: list[str] = []
    for link in _chain(exc):
        text = str(getattr(link, "message", None) or link).strip()
        if text and not any(text in part for part in parts):
            parts.append(text)
    return ": ".join(parts) or type(exc).__name__
