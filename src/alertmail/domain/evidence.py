"""Everything a failed send tells about its cause, gathered into one flat record.

The classification rules (`classification_rules.py`) read only this record: the stage the session
was at, the reply's basic and enhanced codes and its words, the socket's errno, the resolver's and
the certificate check's codes, and the provider behind the relay or the OAuth endpoint. Gathering
is the only place that knows the error classes; the rules stay a plain table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from alertmail.errors import (
    ApiReplyError,
    ConnectRefusedError,
    ConnectTimeoutError,
    DnsError,
    NativeTransportError,
    OAuthError,
    SmtpReplyError,
    TlsHandshakeError,
    TlsUnavailableError,
    TransportError,
)

__all__ = ["Evidence", "enhanced_code", "gather", "provider_of"]

# RFC 3463 class.subject.detail, anywhere in the reply, also written "#4.5.3"; never part of a
# longer dotted number such as an IP address or a version.
_ENHANCED = re.compile(r"(?<![\w.])#?([245])\.(\d{1,3})\.(\d{1,3})(?![\w.]|\.\d)")

_MICROSOFT_HOSTS = (
    "office365.com",
    "outlook.com",
    "microsoftonline.com",
    "office.com",
    "live.com",
    "hotmail.com",
)
_GOOGLE_HOSTS = ("gmail.com", "googlemail.com", "google.com", "googleapis.com")
# Words only these providers' servers put in their replies.
_MICROSOFT_MARKS = re.compile(r"\.prod\.outlook\.com|\bSTOREDRV\.|aka\.ms/", re.IGNORECASE)
_GOOGLE_MARKS = re.compile(r"\bgsmtp\b|support\.google\.com/(?:mail|a)/", re.IGNORECASE)


@dataclass(frozen=True)
class Evidence:
    """One failure, as facts. `kind` says which family it is:

    `reply` (the server answered an error), `dns`, `timeout`, `refused`, `tls`, `tls_unavailable`,
    `oauth`, `api` (Microsoft Graph or the Gmail API refused), `native` (the local sendmail program)
    or `other` (a connection lost, a library refusal).
    """

    kind: str
    stage: str = ""
    code: int | None = None
    enhanced: str | None = None
    text: str = ""
    os_errno: int | None = None
    resolver_code: int | None = None
    verify_code: int | None = None
    certificate_invalid: bool = False
    provider: str = ""
    port: int | None = None
    provider_code: str = ""
    oauth_error: str = ""
    http_status: int | None = None
    exit_code: int | None = None
    api: str = ""  # the mail API that refused: `graph` or `gmail_api`

    @property
    def reply_class(self) -> int | None:
        """4 (transient) or 5 (permanent) from the basic code, else from the enhanced one."""
        if self.code is not None and 400 <= self.code < 600:
            return self.code // 100
        return int(self.enhanced[0]) if self.enhanced else None

    @property
    def subject(self) -> str:
        """The enhanced code without its class: "1.1" for 5.1.1, "" when there is none."""
        return self.enhanced.split(".", 1)[1] if self.enhanced else ""


def enhanced_code(text: str, code: int | None = None) -> str | None:
    """The RFC 3463 enhanced code of a reply: on any line, in any common spelling, preferring one
    whose class agrees with the basic `code`."""
    found = [".".join(match.groups()) for match in _ENHANCED.finditer(text)]
    if code is not None:
        agreeing = [each for each in found if each[0] == str(code)[0]]
        found = agreeing or found
    return found[0] if found else None


def provider_of(host: str | None, text: str = "") -> str:
    """`microsoft`, `google` or "" from the host name, or from marks only their servers write."""
    name = (host or "").lower().rstrip(".")
    if any(name == known or name.endswith("." + known) for known in _MICROSOFT_HOSTS):
        return "microsoft"
    if any(name == known or name.endswith("." + known) for known in _GOOGLE_HOSTS):
        return "google"
    if _MICROSOFT_MARKS.search(text):
        return "microsoft"
    if _GOOGLE_MARKS.search(text):
        return "google"
    return ""


def gather(error: TransportError) -> Evidence:
    """The facts of one failure; see `Evidence`."""
    if isinstance(error, SmtpReplyError):
        return _reply(error)
    if isinstance(error, OAuthError):
        return Evidence(
            kind="oauth",
            stage=error.stage,
            text=f"{error.error} {error.description}".lower(),
            provider=provider_of(error.host),
            provider_code=error.provider_code,
            oauth_error=error.error,
            http_status=error.http_status,
        )
    if isinstance(error, ApiReplyError):
        return Evidence(
            kind="api",
            stage=error.stage,
            text=" ".join(f"{error.code} {error.message}".split()).lower(),
            provider="microsoft" if error.api == "graph" else "google",
            provider_code=error.code,
            http_status=error.http_status,
            api=error.api,
        )
    if isinstance(error, NativeTransportError):
        return Evidence(kind="native", text=error.detail.lower(), exit_code=error.exit_code)
    return Evidence(
        kind=_kind(error),
        stage=error.stage,
        text=error.detail.lower(),
        os_errno=error.os_errno,
        resolver_code=error.resolver_code if isinstance(error, DnsError) else None,
        verify_code=error.verify_code if isinstance(error, TlsHandshakeError) else None,
        certificate_invalid=isinstance(error, TlsHandshakeError) and error.certificate_invalid,
        provider=provider_of(error.host),
        port=error.port,
    )


def _reply(error: SmtpReplyError) -> Evidence:
    return Evidence(
        kind="reply",
        stage=error.stage,
        code=error.code,
        enhanced=enhanced_code(error.message, error.code),
        text=" ".join(error.message.split()).lower(),
        provider=provider_of(error.host, error.message),
        port=error.port,
    )


_KINDS: tuple[tuple[type[TransportError], str], ...] = (
    (DnsError, "dns"),
    (ConnectTimeoutError, "timeout"),
    (ConnectRefusedError, "refused"),
    (TlsHandshakeError, "tls"),
    (TlsUnavailableError, "tls_unavailable"),
)


def _kind(error: TransportError) -> str:
    return next((name for kind, name in _KINDS if isinstance(error, kind)), "other")
