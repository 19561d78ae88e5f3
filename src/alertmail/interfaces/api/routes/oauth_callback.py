"""The browser's way back from the provider: GET /login/smtp-verification?code=&state=.

The page is the web UI's: in its layout when the browser is signed in, plain otherwise (a sign-in
started from `alertmail oauth sign-in` may come back to a browser that never signed in here).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from alertmail.errors import OAuthStateError
from alertmail.interfaces.api.deps import ContainerDep
from alertmail.interfaces.web.routes.mail_settings import outcome_page
from alertmail.interfaces.web.session import OptionalSessionDep
from alertmail.services.oauth_signin import CALLBACK_PATH

router = APIRouter(tags=["oauth2"])


# The browser's landing page (HTML), like the web UI's pages: not an operation of the REST API.
@router.get(CALLBACK_PATH, response_class=Response, include_in_schema=False)
async def smtp_verification(
    request: Request,
    container: ContainerDep,
    session: OptionalSessionDep,
    state: str = "",
    code: str = "",
    error: str = "",
    error_description: str = "",
) -> Response:
    """Finish the sign-in and say how it went, in the seed's words."""
    try:
        outcome = await container.oauth_sign_in.complete(
            state=state,
            code=code,
            error=error,
            error_description=error_description,
            # A signed-in browser may only finish its own administrator's sign-in.
            administrator=session.administrator.username if session else None,
        )
    except OAuthStateError as refused:
        return await outcome_page(request, session, None, refusal=str(refused))
    return await outcome_page(request, session, outcome)
