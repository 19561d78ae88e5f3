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
    "ApiReplyError",
    "ConflictError",
    "ConnectRefusedError",
    "ConnectTimeoutError",
    "DnsError",
    "FieldError",
    "ForbiddenError",
    "NativeTransportError",
    "NodeNameInUseError",
    "NotConfiguredError",
    "NotFoundError",
    "OAuthError",
    "OAuthStateError",
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


class NodeNameInUseError(ConflictError):
    """Another live node already runs under this node's name: two would silently become one."""


class UnauthorizedError(AlertmailError):
    category = "unauthorized"


class ForbiddenError(AlertmailError):
    """Authenticated, but the credential does not allow this (an `events` API token elsewhere)."""

    category = "forbidden"


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
        stage: str = "",
        os_errno: int | None = None,
    ) -> None:
        self.detail = detail
        self.host = host
        self.port = port
        self.timeout = timeout
        # Where the session was (connect, greeting, ehlo, starttls, auth, mail, rcpt, data) and the
        # operating system's error number, when the failure came from a socket.
        self.stage = stage
        self.os_errno = os_errno
        super().__init__(detail)


class DnsError(TransportError):
    """The relay's name did not resolve. `resolver_code` is getaddrinfo's EAI_* code: EAI_NONAME
    (the name does not exist) is a setting to fix, EAI_AGAIN (the resolver is failing) passes."""

    category = "dns"
    retryable = True

    def __init__(
        self,
        detail: str,
        *,
        resolver_code: int | None = None,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self.resolver_code = resolver_code
        super().__init__(detail, host=host, port=port, stage="connect")


class ConnectTimeoutError(TransportError, TimeoutError):
    category = "connect_timeout"
    retryable = True


class ConnectRefusedError(TransportError, ConnectionRefusedError):
    category = "connect_refused"
    retryable = True


class TlsHandshakeError(TransportError):
    """The TLS handshake failed. `certificate_invalid` is set when the peer's certificate was refused;
    `verify_code` is OpenSSL's X509_V_ERR_* number then (10 expired, 62 name mismatch, 18-21 untrusted)."""

    category = "tls_handshake"

    def __init__(
        self,
        detail: str,
        *,
        certificate_invalid: bool = False,
        verify_code: int | None = None,
        host: str | None = None,
        port: int | None = None,
        stage: str = "",
    ) -> None:
        self.certificate_invalid = certificate_invalid
        self.verify_code = verify_code
        super().__init__(detail, host=host, port=port, stage=stage)


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
        super().__init__(f"{code} {message}", host=host, port=port, stage=stage)


class NativeTransportError(TransportError):
    """The local sendmail program failed. Exit status 75 (EX_TEMPFAIL) means try again later."""

    category = "native"

    def __init__(self, detail: str, *, program: str, exit_code: int | None) -> None:
        self.program = program
        self.exit_code = exit_code
        super().__init__(detail)


class ApiReplyError(TransportError):
    """A mail API (Microsoft Graph, the Gmail API) answered an HTTP error, or no usable answer.

    `api` is the E-mail Type (`graph`, `gmail_api`); `code` the provider's most specific error code:
    Graph's `error.code` (`ErrorAccessDenied`), Gmail's first `errors[].reason`
    (`insufficientPermissions`), else `HTTP <status>`. `retry_after` is the seconds the provider
    asked to wait (Retry-After). `request_id`, `client_request_id` and `date` are what the
    provider's support asks for (Graph's `innerError`); none of these holds a secret. The category
    is the classifier's (`graph` or `gmail_api`).
    """

    def __init__(
        self,
        api: str,
        http_status: int | None,
        code: str,
        message: str,
        *,
        host: str | None = None,
        status: str = "",
        retry_after: float | None = None,
        request_id: str = "",
        client_request_id: str = "",
        date: str = "",
    ) -> None:
        self.api = api
        self.http_status = http_status
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.request_id = request_id
        self.client_request_id = client_request_id
        self.date = date
        where = f"HTTP {http_status}" if http_status else "no HTTP answer"
        super().__init__(f"{where} {code}: {message}".strip().rstrip(":"), host=host, stage="api")

    def support_details(self) -> dict[str, str]:
        details = {
            "request_id": self.request_id,
            "client_request_id": self.client_request_id,
            "date": self.date,
            "http_status": str(self.http_status or ""),
            "error": self.code,
            "status": self.status,
            "retry_after": "" if self.retry_after is None else f"{self.retry_after:g}",
        }
        return {name: value for name, value in details.items() if value}


class NotConfiguredError(AlertmailError):
    """Nothing can be sent before the mail settings have been saved once."""

    category = "not_configured"


# --- OAuth2 -------------------------------------------------------------------------------------


class OAuthError(TransportError):
    """An OAuth2 step failed: the provider refused a request, or no usable token is left.

    It is a `TransportError` because it stops a send like a refused connection does, and it is
    classified and logged the same way. The fields are the provider's own error response (RFC 6749
    5.2 plus Microsoft's `error_codes`, `trace_id`, `correlation_id` and `timestamp`), kept for
    support; none of them holds a secret. `provider_code` is the most specific code known:
    `AADSTS700082` for Microsoft, else the `error` itself (`invalid_grant`).

    `stage` is where it happened: `authorize` (the provider's sign-in page or the callback), `token`
    (the code exchange), `refresh`, `client_credentials`, `xoauth2` (the relay refused a token
    freshly obtained) or `stored` (the saved token is known dead: nothing was asked of anyone).
    """

    category = "oauth"

    def __init__(
        self,
        error: str,
        description: str = "",
        *,
        stage: str,
        provider_code: str | None = None,
        error_codes: tuple[int, ...] = (),
        http_status: int | None = None,
        trace_id: str = "",
        correlation_id: str = "",
        timestamp: str = "",
        error_uri: str = "",
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self.error = error
        self.description = description
        self.provider_code = provider_code or error
        self.error_codes = error_codes
        self.http_status = http_status
        self.trace_id = trace_id
        self.correlation_id = correlation_id
        self.timestamp = timestamp
        self.error_uri = error_uri
        first_line = description.splitlines()[0].strip() if description else ""
        super().__init__(f"{error}: {first_line}" if first_line else error, host=host, port=port, stage=stage)

    def support_details(self) -> dict[str, str]:
        """What a provider's support desk asks for; empty values left out."""
        details = {
            "error": self.error,
            "error_codes": ",".join(str(code) for code in self.error_codes),
            "http_status": str(self.http_status or ""),
            "trace_id": self.trace_id,
            "correlation_id": self.correlation_id,
            "timestamp": self.timestamp,
            "error_uri": self.error_uri,
        }
        return {name: value for name, value in details.items() if value}


class OAuthStateError(AlertmailError):
    """A sign-in callback that cannot be trusted: unknown, reused or expired `state`, or a callback
    for a flow another administrator started. Nothing is exchanged and nothing changes."""

    category = "oauth_state"
