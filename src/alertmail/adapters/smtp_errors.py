"""aiosmtplib's, the socket layer's and ssl's exceptions, translated into `alertmail.errors`.

The one place that knows them. Each translated error keeps what the classifier reads: the stage the
session was at, the socket's errno, getaddrinfo's EAI code, OpenSSL's certificate verification code,
and whether a connection timed out opening or waiting for the server's greeting.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPConnectResponseError,
    SMTPDataError,
    SMTPException,
    SMTPHeloError,
    SMTPRecipientRefused,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
)

from alertmail.domain.settings import MailSettings
from alertmail.errors import (
    AlertmailError,
    ConnectRefusedError,
    ConnectTimeoutError,
    DnsError,
    SmtpReplyError,
    TlsHandshakeError,
    TransportError,
)

__all__ = ["Stage", "Where", "translate", "translate_errors"]


class Stage:
    """The command the session is at, for replies whose exception type does not say it."""

    __slots__ = ("name",)

    def __init__(self) -> None:
        self.name = "connect"


@dataclass(frozen=True)
class Where:
    """The facts every translated error carries."""

    host: str
    port: int
    timeout: float
    stage: str


@contextmanager
def translate_errors(settings: MailSettings, stage: Stage) -> Iterator[None]:
    """Re-raise what aiosmtplib, the socket layer and ssl raise as `alertmail.errors`."""
    try:
        yield
    except AlertmailError:
        raise  # already ours (ConnectTimeoutError is an OSError too)
    except (SMTPException, OSError, ValueError) as exc:
        where = Where(settings.hostname, settings.port, settings.connect_timeout, stage.name)
        raise translate(exc, where) from exc


def translate(exc: BaseException, where: Where) -> TransportError:
    for matcher in _MATCHERS:
        error = matcher(exc, where)
        if error is not None:
            return error
    return TransportError(_describe(exc), host=where.host, port=where.port, stage=where.stage)


_REPLY_STAGES: tuple[tuple[type[SMTPResponseException], str], ...] = (
    (SMTPConnectResponseError, "connect"),
    (SMTPHeloError, "ehlo"),
    (SMTPAuthenticationError, "auth"),
    (SMTPSenderRefused, "mail"),
    (SMTPRecipientRefused, "rcpt"),
    (SMTPDataError, "data"),
)


def _server_reply(exc: BaseException, where: Where) -> TransportError | None:
    if isinstance(exc, SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]  # every recipient was refused: report the first
    # Code -1 is aiosmtplib's "could not parse the reply": not a reply the server chose.
    if not isinstance(exc, SMTPResponseException) or exc.code < 100:
        return None
    stage = next((name for kind, name in _REPLY_STAGES if isinstance(exc, kind)), where.stage)
    return SmtpReplyError(exc.code, exc.message, stage=stage, host=where.host, port=where.port)


def _timeout(exc: BaseException, where: Where) -> TransportError | None:
    if _find(exc, TimeoutError) is None:
        return None
    if where.stage == "connect":  # the TCP connection, the TLS of port 465, or the greeting
        # aiosmtplib says which: the connection opened and then no "220" came.
        stage = "greeting" if _GREETING_TIMEOUT in _describe(exc) else "connect"
        return ConnectTimeoutError(
            _describe(exc), host=where.host, port=where.port, timeout=where.timeout, stage=stage
        )
    # A reply that never came later in the session: the connection failed part-way.
    return TransportError(
        _describe(exc), host=where.host, port=where.port, timeout=where.timeout, stage=where.stage
    )


def _certificate(exc: BaseException, where: Where) -> TransportError | None:
    refused = _find(exc, ssl.SSLCertVerificationError)
    if refused is None:
        return None
    return TlsHandshakeError(
        _describe(exc),
        certificate_invalid=True,
        verify_code=refused.verify_code,
        host=where.host,
        port=where.port,
        stage=where.stage,
    )


def _tls_handshake(exc: BaseException, where: Where) -> TransportError | None:
    if _find(exc, ssl.SSLError) is None:
        return None
    return TlsHandshakeError(_describe(exc), host=where.host, port=where.port, stage=where.stage)


def _dns(exc: BaseException, where: Where) -> TransportError | None:
    failed = _find(exc, socket.gaierror)
    if failed is None:
        return None
    return DnsError(_describe(exc), resolver_code=failed.errno, host=where.host, port=where.port)


def _refused(exc: BaseException, where: Where) -> TransportError | None:
    if not any(_is_refusal(link) for link in _chain(exc)):
        return None
    return ConnectRefusedError(_describe(exc), host=where.host, port=where.port, stage=where.stage)


def _os_error(exc: BaseException, where: Where) -> TransportError | None:
    """Any other socket error (a network with no route, a reset): kept with its errno."""
    failed = next((link for link in _chain(exc) if isinstance(link, OSError) and link.errno), None)
    if failed is None:
        return None
    return TransportError(
        _describe(exc), host=where.host, port=where.port, stage=where.stage, os_errno=failed.errno
    )


_MATCHERS: tuple[Callable[[BaseException, Where], TransportError | None], ...] = (
    _server_reply,
    _timeout,
    _certificate,
    _tls_handshake,
    _dns,
    _refused,
    _os_error,
)
_GREETING_TIMEOUT = "waiting for server ready message"

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
