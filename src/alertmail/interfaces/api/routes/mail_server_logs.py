"""/api/v1/mail-server-logs: every classified failure, newest first."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from alertmail.interfaces.api.deps import AdministratorDep, ContainerDep
from alertmail.interfaces.api.schemas import MailLogEntryPublic, MailLogPage
from alertmail.services.mail_logs import CATEGORIES, MAX_LIMIT

router = APIRouter(prefix="/api/v1/mail-server-logs", tags=["mail server logs"])
_NUMBER = re.compile(r"\s*[-+]?[0-9]+(\.[0-9]*)?\s*")


def _date_time_only(value: object) -> object:
    # pydantic reads a bare number as seconds since 1970; the schema promises an ISO 8601 date-time.
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        raise ValueError("must be a date and time such as 2026-12-04T08:00:00Z")
    return value


@router.get("", response_model=MailLogPage)
async def list_mail_server_logs(
    container: ContainerDep,
    admin: AdministratorDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    category: Annotated[str | None, Query(json_schema_extra={"enum": list(CATEGORIES)})] = None,
    since: Annotated[datetime | None, BeforeValidator(_date_time_only)] = None,
) -> MailLogPage:
    entries = await container.mail_logs.list(limit=limit, category=category, since=since)
    return MailLogPage(entries=[MailLogEntryPublic.model_validate(entry) for entry in entries])
