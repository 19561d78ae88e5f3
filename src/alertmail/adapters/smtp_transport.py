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
by `smtp_errors.translate_errors`, the one place that knows them.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from email.message import EmailMessage

from aiosmtplib import (
    SMTP,
    SMTPAuthenticationError,
    SMTPException,
    SMTPHeloError,
    SMTPRecipientsRefused,
    SMTPResponse,
)

from alertmail.adapters.smtp_envelope import wire_message
from alertmail.adapters.smtp_errors import Stage, translate_errors
from alertmail.domain.ports import AccessTokenSource
from alertmail.domain.settings import MailSettings
from alertmail.errors import SmtpReplyError, TlsUnavailableError, TransportError

__all__ = ["SmtpSession", "SmtpTransport", "tls_context"]

logger = logging.getLogger(__name__)


class SmtpTransport:
    """Hands a message to the configured SMTP relay, or raises a `TransportError`.

    `tokens` is needed only for `auth_type` oauth2: it is asked for an access token right before
    AUTH XOAUTH2 (or OAUTHBEARER when that is all the server offers), which only ever goes over TLS.
    A token the relay refuses with 535 is replaced once by a fresh one before the failure counts.

    Recipients: the message goes to every recipient the server accepts. `send` raises
    `SmtpReplyError` (stage "rcpt") for the first refused one, so the refusal is never silent;
    a session's `send` instead reports each refused recipient (the outbox retries only those).
    When every recipient is refused, nothing is sent.
    """

    def __init__(self, *, tokens: AccessTokenSource | None = None) -> None:
        self._tokens = tokens

    async def send(self, message: EmailMessage, recipients: Sequence[str], settings: MailSettings) -> None:
        session = await self.open_session(settings)
        try:
            refused = await session.send(message, recipients)
        finally:
            await session.close()
        if refused:
            raise next(iter(refused.values()))

    async def probe(self, settings: MailSettings) -> None:
        """Connect, upgrade to TLS and authenticate as a send would, then QUIT: no message is sent.
        Raises the `TransportError` a send would have met at those stages."""
        session = await self.open_session(settings)
        await session.close()

    async def open_session(self, settings: MailSettings) -> SmtpSession:
        """Connect, upgrade to TLS and authenticate once; the session then sends many messages."""
        if settings.auth_type == "oauth2" and self._tokens is None:
            raise _no_access_token(settings)
        stage = Stage()
        with translate_errors(settings, stage):
            client = _client(settings, await _tls_context_for(settings))
            try:
                await _open_session(client, settings, stage)
                await self._authenticate(client, settings, stage)
            except BaseException:
                client.close()
                raise
        return SmtpSession(client, settings)

    async def _authenticate(self, client: SMTP, settings: MailSettings, stage: Stage) -> None:
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

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> dict[str, SmtpReplyError]:
        """Send to every recipient the server accepts; the refused ones and the server's reply to
        each (every recipient when none was accepted: then nothing was sent)."""
        stage = Stage()
        stage.name = "mail"
        with translate_errors(self._settings, stage):
            wire = wire_message(
                message,
                self._settings.from_address,
                recipients,
                smtputf8=self._client.supports_extension("smtputf8"),
                eight_bit_mime=self._client.supports_extension("8bitmime"),
            )
            try:
                refused, _ = await self._client.sendmail(
                    wire.sender, wire.recipients, wire.data, mail_options=wire.mail_options
                )
            except SMTPRecipientsRefused as everyone:
                refused = {r.recipient: SMTPResponse(r.code, r.message) for r in everyone.recipients}
        # Refusals are reported by the addresses the caller gave (the wire may hold IDNA forms).
        given = dict(zip(wire.recipients, recipients, strict=True))
        return {given.get(address, address): self._refusal(reply) for address, reply in refused.items()}

    def _refusal(self, reply: SMTPResponse) -> SmtpReplyError:
        settings = self._settings
        return SmtpReplyError(
            reply.code, reply.message, stage="rcpt", host=settings.hostname, port=settings.port
        )

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
    return await asyncio.to_thread(tls_context, settings.tls_trusted_ca)


def tls_context(trusted_ca_pem: str) -> ssl.SSLContext:
    """The system trust store plus the configured CA; hostname checked, TLS 1.2 at least."""
    context = ssl.create_default_context()
    if trusted_ca_pem.strip():
        context.load_verify_locations(cadata=trusted_ca_pem)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


async def _open_session(client: SMTP, settings: MailSettings, stage: Stage) -> None:
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
