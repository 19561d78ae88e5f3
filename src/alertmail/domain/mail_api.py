"""Facts of the mail APIs that need no network: request bodies, error bodies, limits, Retry-After.

Microsoft Graph `sendMail` takes the MIME message base64-encoded as `text/plain` and answers
`202 Accepted`; the Gmail API `messages/send` takes `{"raw": base64url(MIME)}`. Their error bodies
are parsed here into `ApiReplyError`, so the adapter that called the API and the tests that stand
in for it agree on what the bodies mean:

- Graph: `{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}`;
- Gmail: `{"error": {"code": 403, "message", "errors": [{"reason", "domain", "message"}], "status"}}`.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from alertmail.errors import ApiReplyError

__all__ = [
    "GRAPH_MAX_REQUEST_BYTES",
    "MAILBOX_CONCURRENCY",
    "api_error",
    "connection_limit",
    "gmail_request_body",
    "graph_encoded_size",
    "graph_request_body",
    "graph_size_problem",
    "probe_passed",
    "retry_after_seconds",
]

# Graph refuses a request body over 4 MB (Microsoft Learn, user-sendmail: "MIME format ... limit").
GRAPH_MAX_REQUEST_BYTES = 4 * 1024 * 1024
# Graph's Outlook limit: 4 concurrent requests per app per mailbox (Microsoft Learn, throttling-limits).
MAILBOX_CONCURRENCY = 4
_API_TYPES = ("graph", "gmail_api")
_MESSAGE_LIMIT = 500  # characters of a provider's message kept: enough to read, never a page
_LONGEST_WAIT = 24 * 3600.0  # a Retry-After beyond a day is not a wait, it is a mistake

# The refusal of a probe's read that proves the token good: the API checked the token (signature,
# audience, expiry) and then found no read permission in it, which a sender needs no more than
# this. Graph answers a directory read without User.Read.All with 403 Authorization_RequestDenied;
# Gmail a read without a read scope with 403 insufficientPermissions. Other 403s (the Gmail API
# switched off, a daily limit reached, an access policy) would stop a send too: they fail the probe.
_PROBE_PERMISSION_ONLY = {"graph": "Authorization_RequestDenied", "gmail_api": "insufficientPermissions"}


def probe_passed(api: str, error: ApiReplyError) -> bool:
    """Whether a probe's refused read still proves what a send needs (see `_PROBE_PERMISSION_ONLY`)."""
    return error.http_status == 403 and error.code == _PROBE_PERMISSION_ONLY.get(api)


def connection_limit(email_type: str, max_connections: int) -> int:
    """How many of the cluster's connection tokens the delivery lanes may hold at once.

    A mail API lane has one request in flight at a time and holds a connection token (shared by
    every node) while open, so for the mail APIs this caps the requests per mailbox for the whole
    cluster: never past MAILBOX_CONCURRENCY, whatever Max connections says.
    """
    if email_type in _API_TYPES:
        return min(max_connections, MAILBOX_CONCURRENCY)
    return max_connections


def graph_request_body(mime: bytes) -> bytes:
    return base64.b64encode(mime)


def gmail_request_body(mime: bytes) -> bytes:
    raw = base64.urlsafe_b64encode(mime).decode("ascii")
    return json.dumps({"raw": raw}).encode("ascii")


def graph_encoded_size(mime_size: int) -> int:
    """The size of the base64 body Graph receives for a MIME message of `mime_size` bytes."""
    return 4 * math.ceil(mime_size / 3)


def graph_size_problem(mime_size: int) -> str | None:
    """Why Graph would refuse a message this large, or None: said before it is ever queued."""
    encoded = graph_encoded_size(mime_size)
    if encoded <= GRAPH_MAX_REQUEST_BYTES:
        return None
    return (
        f"the message is {encoded:,} bytes once base64-encoded, and Microsoft Graph accepts at most "
        f"{GRAPH_MAX_REQUEST_BYTES:,} (4 MB) per sendMail request: send it smaller, or through SMTP"
    )


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds (RFC 9110 10.2.3: a number of seconds or an HTTP date); None if absent."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), _LONGEST_WAIT)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return min(max((when - now).total_seconds(), 0.0), _LONGEST_WAIT)


def api_error(
    api: str,
    status: int,
    body: str,
    headers: Mapping[str, str],
    *,
    now: datetime,
    host: str | None = None,
) -> ApiReplyError:
    """The `ApiReplyError` of one refused request: the provider's code, message and support IDs."""
    error = _error_object(body)
    inner = error.get("innerError") or error.get("innererror") or {}
    inner = inner if isinstance(inner, dict) else {}
    code, message = _code_and_message(api, status, error)
    return ApiReplyError(
        api,
        status,
        code,
        message,
        host=host,
        status=str(error.get("status") or ""),
        retry_after=retry_after_seconds(_header(headers, "retry-after"), now),
        request_id=str(inner.get("request-id") or _header(headers, "request-id") or ""),
        client_request_id=str(inner.get("client-request-id") or _header(headers, "client-request-id") or ""),
        date=str(inner.get("date") or _header(headers, "date") or ""),
    )


def _error_object(body: str) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, dict) else {}


def _code_and_message(api: str, status: int, error: Mapping[str, Any]) -> tuple[str, str]:
    message = " ".join(str(error.get("message") or "").split())[:_MESSAGE_LIMIT]
    if api == "gmail_api":
        reasons = [e.get("reason") for e in error.get("errors") or () if isinstance(e, dict)]
        code = next((str(r) for r in reasons if r), "")
    else:
        code = str(error.get("code") or "")
    if not code or code.isdigit():
        code = f"HTTP {status}"
    return code, message or _REASON.get(status, "the API refused the request")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


_REASON = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
