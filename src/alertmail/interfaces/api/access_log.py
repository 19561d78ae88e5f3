"""What uvicorn's access log writes: no grant, and no line per accepted event.

- `GrantQueryFilter`: `/login/smtp-verification?code=...&state=...` carries an authorization code
  that, with the PKCE verifier alertmail holds, buys tokens for the mailbox. The query of the OAuth
  callback is cut from its line before any handler sees it; the request itself is still logged.
- `QuietEventIngestion`: accepted events (`POST /api/v1/events`, 2xx) are left out: at 1,000 a
  second, one line each would cost the event loop more than recording them, and say nothing the
  events table does not. Refused events (4xx, 5xx) and every other request are still logged.
"""

from __future__ import annotations

import logging

__all__ = ["GrantQueryFilter", "QuietEventIngestion", "install_access_log_filters"]

CALLBACK_PATH = "/login/smtp-verification"
_EVENTS_PATH = "/api/v1/events"
_ACCESS_LOGGER = "uvicorn.access"


def _request_of(record: logging.LogRecord) -> tuple[object, object, str, object, object] | None:
    """uvicorn's access record: args = (client, method, path with query, HTTP version, status)."""
    args = record.args
    if isinstance(args, tuple) and len(args) == 5:
        client, method, path, version, status = args
        if isinstance(path, str):
            return client, method, path, version, status
    return None


class GrantQueryFilter(logging.Filter):
    """Rewrites an access-log record whose path is the OAuth callback to the path alone."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _request_of(record)
        if request is not None:
            client, method, full_path, version, status = request
            path, _, _ = full_path.partition("?")
            if path.rstrip("/") == CALLBACK_PATH and path != full_path:
                record.args = (client, method, f"{path}?[redacted]", version, status)
        return True


class QuietEventIngestion(logging.Filter):
    """Drops the access-log record of an accepted event."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _request_of(record)
        if request is None:
            return True
        _, method, path, _, status = request
        accepted = isinstance(status, int) and 200 <= status < 300
        return not (method == "POST" and path == _EVENTS_PATH and accepted)


def install_access_log_filters() -> None:
    """Add both filters to uvicorn's access logger once (idempotent: serve, tests, reloads)."""
    logger = logging.getLogger(_ACCESS_LOGGER)
    for kind in (GrantQueryFilter, QuietEventIngestion):
        if not any(isinstance(existing, kind) for existing in logger.filters):
            logger.addFilter(kind())
