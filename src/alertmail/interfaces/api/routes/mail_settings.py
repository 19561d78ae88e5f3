"""/api/v1/mail-settings: read, change, and prove with a test e-mail."""

from __future__ import annotations

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from alertmail.domain import messages
from alertmail.interfaces.api.deps import AdministratorDep, ContainerDep
from alertmail.interfaces.api.schemas import (
    ErrorPublic,
    MailSettingsPublic,
    MailSettingsUpdate,
    SaveResultPublic,
    TestEmailPublic,
    TestEmailRequest,
)
from alertmail.services.settings_service import SaveResult

router = APIRouter(prefix="/api/v1/mail-settings", tags=["mail settings"])

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorPublic},
    422: {"model": ErrorPublic, "description": "A field is not valid; nothing was saved"},
}


@router.get("", response_model=MailSettingsPublic)
async def read_settings(container: ContainerDep, admin: AdministratorDep) -> MailSettingsPublic:
    return MailSettingsPublic.of(await container.settings.current())


@router.patch("", response_model=SaveResultPublic, responses=_ERRORS)
async def change_settings(
    update: MailSettingsUpdate, container: ContainerDep, admin: AdministratorDep
) -> SaveResultPublic:
    result = await container.settings.save(
        update.changes(), actor=admin.username, test_recipient_admin=admin.username
    )
    return _saved(result)


@router.put("", response_model=SaveResultPublic, responses=_ERRORS)
async def replace_settings(
    update: MailSettingsUpdate, container: ContainerDep, admin: AdministratorDep
) -> SaveResultPublic:
    result = await container.settings.save(
        update.changes(), actor=admin.username, replace=True, test_recipient_admin=admin.username
    )
    return _saved(result)


@router.post(
    "/test-email",
    response_model=TestEmailPublic,
    responses={
        502: {"model": TestEmailPublic, "description": "The relay refused or failed"},
        409: {"model": ErrorPublic, "description": "No e-mail for this administrator"},
    },
)
async def send_test_email(
    container: ContainerDep,
    admin: AdministratorDep,
    request: TestEmailRequest | None = Body(default=None),
) -> JSONResponse:
    to = request.to if request else None
    result = await container.test_email.send_test(administrator=admin.username, to=to)
    body = TestEmailPublic.of(result).model_dump(mode="json")
    return JSONResponse(body, status_code=200 if result.sent else 502)


def _saved(result: SaveResult) -> SaveResultPublic:
    return SaveResultPublic(
        message=messages.CHANGES_SAVED,
        changed=list(result.changed),
        settings=MailSettingsPublic.of(result.stored),
        test_email=TestEmailPublic.of(result.test_email) if result.test_email else None,
        test_email_problem=result.test_email_problem,
    )
