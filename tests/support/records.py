"""Sample records for tests that need one and do not care about most of its fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alertmail.domain.records import MailLogEntry


def mail_log_entry(**changes: Any) -> MailLogEntry:
    """A 535 from a basic-auth relay; `changes` override any field."""
    fields: dict[str, Any] = {
        "registered_at": datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
        "auth_type": "basic",
        "status": "failed",
        "category": "smtp_auth",
        "retryable": False,
        "message": "Authentication unsuccessful",
        "hint": "Check the username and password",
        "settings_snapshot": {"hostname": "smtp.example.com", "port": 587},
        "smtp_code": 535,
        "enhanced_code": "5.7.3",
        "detail": "535 5.7.3 Authentication unsuccessful",
        "context": "test e-mail",
    }
    return MailLogEntry(**(fields | changes))
