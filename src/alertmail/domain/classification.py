"""What a failed send means: a pure function over a table of small named rules.

`classify(error)` gathers the evidence (`evidence.py`), walks `RULES` (`classification_rules.py`) in
order, and the first rule whose conditions hold gives the category, whether a retry can help, the
scope (one recipient, the message, the whole relay) and the hint, fitted to the provider in use
(`hints.py`). The log message follows the seed's wording (`Could not resolve hostname X`,
`Connection timed out after 30 seconds while connecting to X:587`, `TLS handshake failed - peer
certificate validation error`, or the SMTP reply itself).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from alertmail.domain.classification_matchers import Rule, Scope
from alertmail.domain.classification_rules import RULES
from alertmail.domain.evidence import Evidence, enhanced_code, gather
from alertmail.domain.hints import hint_text
from alertmail.domain.oauth_classification import oauth_log_message
from alertmail.errors import (
    ApiReplyError,
    ConnectRefusedError,
    ConnectTimeoutError,
    DnsError,
    OAuthError,
    SmtpReplyError,
    TlsHandshakeError,
    TlsUnavailableError,
    TransportError,
)

__all__ = ["PURPOSES", "RULES", "Classification", "Rule", "Scope", "classify", "enhanced_code"]

PURPOSES = ("delivery", "test", "sign_in")
# Exchange Online ends its replies with "[server timestamp id]"; support asks for all three.
_MICROSOFT_TRACE = re.compile(
    r"\[(?P<server>[A-Za-z0-9.-]+\.(?:outlook|protection\.outlook)\.com)"
    r"(?:\s+(?P<timestamp>\d{4}-\d\d-\d\dT[\d:.]+Z)\s+(?P<id>[0-9A-F]{16}))?\]",
    re.IGNORECASE,
)


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
    scope: Scope = Scope.RELAY
    provider: str = ""
    # What a provider's support desk asks for: Microsoft's trace and correlation IDs and timestamp,
    # Google's error description, Exchange Online's server and its time stamp.
    support_details: dict[str, str] = field(default_factory=dict)
    # Seconds the provider asked to wait (an API's Retry-After): the hold lasts exactly that long.
    retry_after: float | None = None


def classify(error: TransportError, *, purpose: str = "delivery") -> Classification:
    """The category, retry decision, scope, log message and fix hint for one failed send.

    `purpose` is what failed: `delivery` (a queued message, which alertmail tries again), `test`
    (a test e-mail) or `sign_in`; only the first gets a promise of another try.
    """
    found = gather(error)
    rule = next(rule for rule in RULES if rule.when.holds(found))
    retryable = rule.retry(found)
    return Classification(
        category=rule.category,
        retryable=retryable,
        message=log_message(error),
        hint=_hint(rule, found, error, purpose if retryable else "none"),
        rule=rule.name,
        smtp_code=found.code,
        enhanced_code=found.enhanced,
        provider_code=_provider_code(error),
        scope=rule.scope_for(found),
        provider=found.provider,
        support_details=support_details(error),
        retry_after=error.retry_after if isinstance(error, ApiReplyError) else None,
    )


def _provider_code(error: TransportError) -> str | None:
    if isinstance(error, OAuthError):
        return error.provider_code
    if isinstance(error, ApiReplyError):
        return error.code
    return None


def _hint(rule: Rule, found: Evidence, error: TransportError, purpose: str) -> str:
    return hint_text(
        rule.hint,
        found.provider,
        purpose,
        host=error.host or "the server",
        port=str(error.port or "?"),
        timeout=_seconds(error.timeout),
        program=str(getattr(error, "program", "sendmail")),
        api=error.stage.startswith("api"),
    )


def support_details(error: TransportError) -> dict[str, str]:
    """The identifiers a provider's support asks for, from the OAuth error, the API's answer (Graph's
    request-id and date) or the SMTP reply."""
    if isinstance(error, ApiReplyError):
        return error.support_details()
    if isinstance(error, OAuthError):
        details = error.support_details()
        if error.description and not error.provider_code.startswith("AADSTS"):
            # Google's (and RFC 6749 providers') description is the only account of the cause;
            # Microsoft's repeats the log message, and its IDs are kept above.
            details["error_description"] = error.description.strip()
        return details
    if isinstance(error, SmtpReplyError):
        trace = _MICROSOFT_TRACE.search(error.message)
        if trace:
            found = {"server": trace.group("server"), "timestamp": trace.group("timestamp") or ""}
            found["trace_id"] = trace.group("id") or ""
            return {name: value for name, value in found.items() if value}
    return {}


def log_message(error: TransportError) -> str:
    """The human message of Mail Server Logs, in the seed's words where the seed gives them."""
    where = f"{error.host}:{error.port}"
    if isinstance(error, OAuthError):
        return oauth_log_message(error)
    if isinstance(error, DnsError):
        return f"Could not resolve hostname {error.host}"
    if isinstance(error, ConnectTimeoutError):
        text = f"Connection timed out after {_seconds(error.timeout)} seconds while connecting to {where}"
        return f"{text} (connected, but the server sent no greeting)" if error.stage == "greeting" else text
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
