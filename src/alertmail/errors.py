"""The one root exception of alertmail and its families.

Every error alertmail raises on purpose derives from `AlertmailError`. Subclasses say, as class
attributes, which category they belong to and whether trying again can help; the transport family
carries the facts the classifier (`alertmail.domain.classification`) turns into a log entry.
Other libraries' exceptions are translated into these only in the adapter that calls them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "AdministratorEmailMissingError",
    "AlertmailError",
    "ConflictError",
    "ConnectRefusedError",
    "ConnectTimeoutError",
    "DnsError",
    "FieldError",
    "NativeTransportError",
    "NotConfiguredError",
    "NotFoundError",
    "SettingsValidationError",
    "SmtpReplyError",
    "TlsHandshakeError",
    "TlsUnavailableError",
    "TransportError",
    "UnauthorizedError",
]


class AlertmailError(Exception):
    """Root of every error alertmail raises on purpose."""

    category: ClassVar[str] = "internal"
    retryable: ClassVar[bool] = False


@dataclass(frozen=True)
class FieldError:
    """One problem with one field: `field` is the API field name, `message` says what is wrong."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class SettingsValidationError(AlertmailError, ValueError):
    """Input was refused; nothing was saved. Carries every field problem found, not just the first."""

    category = "validation"

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


class NotFoundError(AlertmailError, LookupError):
    category = "not_found"


class ConflictError(AlertmailError):
    category = "conflict"


class UnauthorizedError(AlertmailError):
    category = "unauthorized"


class AdministratorEmailMissingError(AlertmailError):
    """The test e-mail goes to the administrator's own address, and this one has none."""

    category = "administrator_email_missing"


# --- transport failures -------------------------------------------------------------------------


class TransportError(AlertmailError):
    """Sending failed. Carries secret-free facts; `classify()` says what they mean.

    `detail` is the library's own wording, kept for the log file; it must never contain a secret,
    which is why adapters build it from exception messages and server replies only.
    """

    category = "smtp_other"

    def __init__(
        self,
        detail: str,
        *,
        host: str | None = None,
        port: int | None = None,
        timeout: float | None = None,
    ) -> None:
        self.detail = detail
        self.host = host
        self.port = port
        self.timeout = timeout
        super().__init__(detail)


class DnsError(TransportError):
    category = "dns"
    retryable = True


class ConnectTimeoutError(TransportError, TimeoutError):
    category = "connect_timeout"
    retryable = True


class ConnectRefusedError(TransportError, ConnectionRefusedError):
    category = "connect_refused"
    retryable = True


class TlsHandshakeError(TransportError):
    """The TLS handshake failed. `certificate_invalid` is set when the peer's certificate was refused."""

    category = "tls_handshake"

    def __init__(
        self,
        detail: str,
        *,
        certificate_invalid: bool = False,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self.certificate_invalid = certificate_invalid
        super().__init__(detail, host=host, port=port)


class TlsUnavailableError(TransportError):
    """STARTTLS was required and the server did not offer it: nothing was sent in clear."""

    category = "tls_unavailable"


class SmtpReplyError(TransportError):
    """The server answered with an error reply. `stage` is the command it answered (mail, rcpt, ...)."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        stage: str,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.stage = stage
        super().__init__(f"{code} {message}", host=host, port=port)


class NativeTransportError(TransportError):
    """The local sendmail program failed. Exit status 75 (EX_TEMPFAIL) means try again later."""

    category = "native"

    def __init__(self, detail: str, *, program: str, exit_code: int | None) -> None:
        self.program = program
        self.exit_code = exit_code
        super().__init__(detail)


class NotConfiguredError(AlertmailError):
    """Nothing can be sent before the mail settings have been saved once."""

    category = "not_configured"
