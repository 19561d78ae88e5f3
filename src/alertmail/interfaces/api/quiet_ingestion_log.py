"""The access log leaves out accepted events: at 1,000 a second, one line each would cost the
event loop more than recording them, and say nothing the events table does not.

Refused events (4xx, 5xx) and every other request are still logged.
"""

from __future__ import annotations

import logging

__all__ = ["QuietEventIngestion", "install"]

_EVENTS_PATH = "/api/v1/events"


class QuietEventIngestion(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn's access record: (client, method, path with query, HTTP version, status code)
        args = record.args
        if not isinstance(args, tuple) or len(args) != 5:
            return True
        _, method, path, _, status = args
        accepted = isinstance(status, int) and 200 <= status < 300
        return not (method == "POST" and path == _EVENTS_PATH and accepted)


def install(logger_name: str = "uvicorn.access") -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, QuietEventIngestion) for f in logger.filters):
        logger.addFilter(QuietEventIngestion())
