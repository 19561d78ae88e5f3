"""The access log keeps no grant: the query of the OAuth callback is cut from every line.

`/login/smtp-verification?code=...&state=...` carries an authorization code that, with the PKCE
verifier alertmail holds, buys tokens for the mailbox. uvicorn writes the full path of each request
to its access log; this filter removes the query of the callback before any handler sees the line.
"""

from __future__ import annotations

import logging

__all__ = ["GrantQueryFilter", "install_access_log_filter"]

CALLBACK_PATH = "/login/smtp-verification"
_ACCESS_LOGGER = "uvicorn.access"


class GrantQueryFilter(logging.Filter):
    """Rewrites an access-log record whose path is the OAuth callback to the path alone."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn's access record: args = (client, method, path with query, http version, status).
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, _, _ = args[2].partition("?")
            if path.rstrip("/") == CALLBACK_PATH and path != args[2]:
                record.args = (*args[:2], f"{path}?[redacted]", *args[3:])
        return True


def install_access_log_filter() -> None:
    """Add the filter to uvicorn's access logger once (idempotent: serve, tests, reloads)."""
    logger = logging.getLogger(_ACCESS_LOGGER)
    if not any(isinstance(existing, GrantQueryFilter) for existing in logger.filters):
        logger.addFilter(GrantQueryFilter())
