"""What a failed send means: a pure function over a table of small named matchers.

`classify(error)` walks `RULES` in order; the first rule whose matcher accepts the error gives the
category, whether a retry can help, and the fix hint. The log message follows the seed's wording
(`Could not resolve hostname X`, `Connection timed out after 30 seconds while connecting to X:587`,
`TLS handshake failed - peer certificate validation error`, or the SMTP reply itself).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from alertmail.domain.oauth_classification import OAUTH_RULES, oauth_log_message
from alertmail.errors import (
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

__all__ = ["RULES", "Classification", "Rule", "classify", "enhanced_code"]

_ENHANCED = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")
EX_TEMPFAIL = 75


@dataclass(frozen=True)
class Classification:
    category: str
    retryable: bool
    message: str
    hint: str
    rule: str
    smtp_code: int | None = None
    enhanced_code: str | None = None
    provider_code: str | None = None


Matcher = Callable[[TransportError], bool]


@dataclass(frozen=True)
class Rule:
    """One row of the table. `hint` may name {host}, {port}, {timeout} and {program}."""

    name: str
    matches: Matcher
    category: str
    retryable: bool
    hint: str


def enhanced_code(text: str) -> str | None:
    """The RFC 3463 enhanced status code a reply text starts with, if any."""
    found = _ENHANCED.match(text)
    return found.group(1) if found else None


# --- matchers ---------------------------------------------------------------------------------


def _is(kind: type[TransportError]) -> Matcher:
    return lambda error: isinstance(error, kind)


def _reply(*codes: int, enhanced: tuple[str, ...] = (), text: str = "", stage: str = "") -> Matcher:
    """An SMTP reply with one of `codes` (any if none), an enhanced code starting with one of
    `enhanced`, containing `text` (case-insensitive), answered at `stage`: all that are given."""

    def matches(error: TransportError) -> bool:
        if not isinstance(error, SmtpReplyError):
            return False
        found = enhanced_code(error.message) or ""
        return (
            (not codes or error.code in codes)
            and (not enhanced or found.startswith(enhanced))
            and text.lower() in error.message.lower()
            and (not stage or error.stage == stage)
        )

    return matches


def _certificate_invalid(error: TransportError) -> bool:
    return isinstance(error, TlsHandshakeError) and error.certificate_invalid


def _native_temporary(error: TransportError) -> bool:
    return isinstance(error, NativeTransportError) and error.exit_code == EX_TEMPFAIL


def _transient_reply(error: TransportError) -> bool:
    return isinstance(error, SmtpReplyError) and 400 <= error.code < 500


_THROTTLED_HINT = (
    "The server asks to slow down or to try again later; alertmail retries. "
    "Exchange Online accepts 30 messages a minute and 3 connections per mailbox."
)
_QUOTA_HINT = (
    "The mailbox has reached its daily sending limit. alertmail tries again later; "
    "if this repeats, send less or raise the mailbox's quota."
)

RULES: tuple[Rule, ...] = (
    *(Rule(*row) for row in OAUTH_RULES),
    Rule(
        "dns",
        _is(DnsError),
        "dns",
        True,
        "Check the Hostname for typing errors, and that this appliance's DNS servers can resolve it.",
    ),
    Rule(
        "connect_timeout",
        _is(ConnectTimeoutError),
        "connect_timeout",
        True,
        "Nothing answered on {host}:{port} in time. Check the SMTP Port, and that a firewall lets "
        "this appliance connect out to that port (many networks block port 25).",
    ),
    Rule(
        "connect_refused",
        _is(ConnectRefusedError),
        "connect_refused",
        True,
        "{host} refused the connection on port {port}. Check the SMTP Port (587 for STARTTLS, "
        "465 for TLS, 25 for a plain relay) and that the mail service is running.",
    ),
    Rule(
        "certificate_invalid",
        _certificate_invalid,
        "tls_handshake",
        False,
        "The server's certificate is not trusted for {host}. Make sure the Hostname is the name "
        "on the certificate; if the relay uses a private CA, add that CA as a trusted CA.",
    ),
    Rule(
        "tls_handshake",
        _is(TlsHandshakeError),
        "tls_handshake",
        False,
        "Check the SMTP Encryption: port 465 speaks TLS from the start, port 587 uses STARTTLS, "
        "and a plain relay (None) speaks no TLS at all.",
    ),
    Rule(
        "starttls_not_offered",
        _is(TlsUnavailableError),
        "tls_unavailable",
        False,
        "{host}:{port} does not offer STARTTLS, so nothing was sent, credentials least of all. "
        "Use port 587 with STARTTLS or 465 with TLS; choose None only on a trusted network.",
    ),
    Rule("exchange_quota", _reply(554, text="SubmissionQuotaExceeded"), "smtp_throttled", True, _QUOTA_HINT),
    Rule("google_daily_limit", _reply(550, enhanced=("5.4.5",)), "smtp_throttled", True, _QUOTA_HINT),
    Rule(
        "send_as_denied",
        _reply(text="SendAsDenied"),
        "smtp_policy",
        False,
        "The account may not send as the From Address. Set the From Address to the mailbox that "
        "signs in, or grant that mailbox Send As permission in Exchange.",
    ),
    Rule(
        "basic_auth_unsupported",
        _reply(550, enhanced=("5.7.30",)),
        "smtp_policy",
        False,
        "This Microsoft 365 tenant does not accept username and password for sending: switch "
        "the E-mail Authentication Type to OAuth2.",
    ),
    Rule(
        "smtp_auth_disabled",
        _reply(535, enhanced=("5.7.139",)),
        "smtp_auth",
        False,
        "SMTP AUTH is disabled for the tenant or the mailbox. In the Microsoft 365 admin center, "
        "open Users > Active users > the mailbox > Mail > Manage email apps and enable "
        "Authenticated SMTP.",
    ),
    Rule(
        "xoauth2_rejected",
        _reply(535, stage="xoauth2"),
        "oauth",
        False,
        "The relay refused a freshly issued access token. Check that the Username is the mailbox "
        "that signed in, that the app has the SMTP.Send permission (Google: the "
        "https://mail.google.com/ scope), and that Authenticated SMTP is enabled for the mailbox.",
    ),
    Rule(
        "app_password_required",
        _reply(534),
        "smtp_auth",
        False,
        "The account requires an app-specific password (Google with 2-Step Verification): "
        "create one, or use OAuth2 instead.",
    ),
    Rule(
        "google_credentials",
        _reply(535, enhanced=("5.7.8",)),
        "smtp_auth",
        False,
        "Google did not accept the username and password: use an app password, or OAuth2.",
    ),
    Rule(
        "authentication_required",
        _reply(530),
        "smtp_auth",
        False,
        "The relay requires authentication: choose Username and Password or OAuth2.",
    ),
    Rule(
        "authentication_failed",
        _reply(535, 538),
        "smtp_auth",
        False,
        "Check the Username and Password. On Microsoft 365 also check that Authenticated SMTP "
        "is enabled for the mailbox; basic authentication may be turned off for the tenant.",
    ),
    Rule(
        "auth_stage",
        _reply(stage="auth"),
        "smtp_auth",
        False,
        "The server refused the login. Check the Username and Password and the encryption mode.",
    ),
    Rule(
        "recipient_unknown",
        _reply(550, 551, 553, enhanced=("5.1.",)),
        "smtp_recipient",
        False,
        "The server refused a recipient address. Check the address for typing errors: the "
        "administrator's e-mail or the admin contacts.",
    ),
    Rule(
        "recipient_refused",
        _reply(550, 551, 553, stage="rcpt"),
        "smtp_recipient",
        False,
        "The server refused a recipient address. Check the address, and that this relay "
        "accepts mail for that domain.",
    ),
    Rule("throttled", _reply(421, 432, 450, 454), "smtp_throttled", True, _THROTTLED_HINT),
    Rule(
        "throttled_enhanced",
        _reply(enhanced=("4.2.1", "4.3.2", "4.7.0")),
        "smtp_throttled",
        True,
        _THROTTLED_HINT,
    ),
    Rule(
        "policy",
        _reply(554, 550, 553, enhanced=("5.7.",)),
        "smtp_policy",
        False,
        "The server refused the message by policy. Check that the From Address may send through "
        "this relay and that the relay accepts mail from this appliance.",
    ),
    Rule(
        "policy_554",
        _reply(554),
        "smtp_policy",
        False,
        "The server refused the message (554). The reply text says why; check the From Address "
        "and that the relay accepts mail from this appliance.",
    ),
    Rule(
        "transient_reply",
        _transient_reply,
        "smtp_other",
        True,
        "The server reported a temporary problem; alertmail tries again.",
    ),
    Rule(
        "permanent_reply",
        _is(SmtpReplyError),
        "smtp_other",
        False,
        "The server refused the message; the reply text says why.",
    ),
    Rule(
        "native_temporary",
        _native_temporary,
        "native",
        True,
        "The local mail program could not deliver for now; alertmail tries again.",
    ),
    Rule(
        "native",
        _is(NativeTransportError),
        "native",
        False,
        "The local mail program ({program}) failed. Check that a sendmail-compatible MTA is "
        "installed and configured, or use an SMTP relay.",
    ),
    Rule(
        "connection_lost",
        _is(TransportError),
        "smtp_other",
        True,
        "The connection to the server failed part-way; alertmail tries again.",
    ),
)


def classify(error: TransportError) -> Classification:
    """The category, retry decision, log message and fix hint for one failed send."""
    rule = next(rule for rule in RULES if rule.matches(error))
    code = error.code if isinstance(error, SmtpReplyError) else None
    return Classification(
        category=rule.category,
        retryable=rule.retryable,
        message=log_message(error),
        hint=rule.hint.format(
            host=error.host or "the server",
            port=error.port or "?",
            timeout=_seconds(error.timeout),
            program=getattr(error, "program", "sendmail"),
        ),
        rule=rule.name,
        smtp_code=code,
        enhanced_code=enhanced_code(error.message) if isinstance(error, SmtpReplyError) else None,
        provider_code=error.provider_code if isinstance(error, OAuthError) else None,
    )


def log_message(error: TransportError) -> str:
    """The human message of Mail Server Logs, in the seed's words where the seed gives them."""
    where = f"{error.host}:{error.port}"
    if isinstance(error, OAuthError):
        return oauth_log_message(error)
    if isinstance(error, DnsError):
        return f"Could not resolve hostname {error.host}"
    if isinstance(error, ConnectTimeoutError):
        return f"Connection timed out after {_seconds(error.timeout)} seconds while connecting to {where}"
    if isinstance(error, ConnectRefusedError):
        return f"Connection refused by {where}"
    if isinstance(error, TlsHandshakeError):
        reason = "peer certificate validation error" if error.certificate_invalid else error.detail
        return f"TLS handshake failed - {reason}"
    if isinstance(error, TlsUnavailableError):
        return f"STARTTLS is required but {where} does not offer it; nothing was sent"
    if isinstance(error, SmtpReplyError):
        first_line = error.message.splitlines()[0] if error.message else ""
        return f"{error.code} {first_line}".strip()
    return error.detail


def _seconds(timeout: float | None) -> str:
    return "?" if timeout is None else f"{timeout:g}"
