"""/api/v1/mail-server-logs: every classified failure, newest first."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from alertmail.interfaces.api.deps import AdministratorDep, ContainerDep
from alertmail.interfaces.api.schemas import MailLogEntryPublic, MailLogPage

router = APIRouter(prefix="/api/v1/mail-server-logs", tags=["mail server logs"])


@router.get("", response_model=MailLogPage)
async def list_mail_server_logs(
    container: ContainerDep,
    admin: AdministratorDep,
    limit: int = 100,
    category: str | None = None,
    since: datetime | None = None,
) -> MailLogPage:
    entries = await container.mail_logs.list(limit=limit, category=category, since=since)
    return MailLogPage(entries=[MailLogEntryPublic.model_validate(entry) for entry in entries])
