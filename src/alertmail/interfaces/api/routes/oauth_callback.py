"""The browser's way back from the provider: GET /login/smtp-verification?code=&state=."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from alertmail.errors import OAuthStateError
from alertmail.interfaces.api.deps import ContainerDep
from alertmail.services.oauth_signin import CALLBACK_PATH

router = APIRouter(tags=["oauth2"])
templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")


@router.get(CALLBACK_PATH, response_class=HTMLResponse)
async def smtp_verification(
    request: Request,
    container: ContainerDep,
    state: str = "",
    code: str = "",
    error: str = "",
    error_description: str = "",
) -> HTMLResponse:
    """Finish the sign-in and say how it went, in the seed's words."""
    try:
        outcome = await container.oauth_sign_in.complete(
            state=state, code=code, error=error, error_description=error_description
        )
    except OAuthStateError as refused:
        context = {"succeeded": False, "message": str(refused), "failure": None, "warning": ""}
        return templates.TemplateResponse(request, "oauth_result.html", context, status_code=400)
    context = {
        "succeeded": outcome.succeeded,
        "message": outcome.message,
        "failure": outcome.failure,
        "warning": outcome.warning,
        "account": outcome.account,
    }
    return templates.TemplateResponse(
        request, "oauth_result.html", context, status_code=200 if outcome.succeeded else 502
    )
