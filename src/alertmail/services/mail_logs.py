"""Reading Mail Server Logs, with the filters the API, the CLI and the UI offer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from alertmail.domain.classification import RULES
from alertmail.domain.ports import MailLogRepository
from alertmail.domain.records import MailLogEntry
from alertmail.errors import FieldError, SettingsValidationError

__all__ = ["CATEGORIES", "MailLogService"]

# Derived from the classification table, so a category added there can be filtered on at once.
# Delivery's own: "internal" (an unexpected error while sending one message) and "expired" (a message
# whose lifetime ran out). Notes, not failures: "template" (a custom event template failed and the
# built-in one was used), "no_admin_contacts" (events were mailed to the administrators) and
# "fallback" (mail went over to the fallback transport, or back to the primary).
_OWN = ("internal", "expired", "template", "no_admin_contacts", "fallback")
CATEGORIES = tuple(dict.fromkeys([*(rule.category for rule in RULES), *_OWN]))
MAX_LIMIT = 1000


class MailLogService:
    def __init__(self, repository: MailLogRepository) -> None:
        self._repository = repository

    async def list(
        self,
        *,
        limit: int = 100,
        category: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
    ) -> Sequence[MailLogEntry]:
        """Newest first; `since` inclusive, `until` exclusive; `offset` entries skipped (pages)."""
        problems = []
        if not 1 <= limit <= MAX_LIMIT:
            problems.append(FieldError("limit", f"must be from 1 to {MAX_LIMIT}"))
        if category is not None and category not in CATEGORIES:
            problems.append(FieldError("category", "must be one of " + ", ".join(CATEGORIES)))
        if offset < 0:
            problems.append(FieldError("offset", "must not be negative"))
        if problems:
            raise SettingsValidationError(problems)
        return await self._repository.list(
            limit=limit, category=category, since=since, until=until, offset=offset
        )
