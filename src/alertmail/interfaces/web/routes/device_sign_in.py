"""Sign in with a code, from Mail Settings: start it, show the code and the address, say how it is
going (polled by htmx), cancel it. The polling itself runs in this server's process."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from alertmail.domain.device_flow import DeviceSignIn
from alertmail.errors import SettingsValidationError
from alertmail.interfaces.web.flash import forget_notices, redirect_with_notices, take_notices
from alertmail.interfaces.web.pages import Notice, container_of, layout, redirect
from alertmail.interfaces.web.routes.mail_settings import outcome_notices
from alertmail.interfaces.web.session import SessionDep
from alertmail.interfaces.web.settings_form import human_errors
from alertmail.interfaces.web.templating import render
from alertmail.services.oauth_device_signin import DeviceSignInBusyError
from alertmail.services.oauth_signin import SignInFailedError

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

PAGE = "/mail-settings/oauth/device"
CANNOT_START = "Sign in with a code cannot start until these saved settings are fixed:"


@router.post(PAGE)
async def start(request: Request, session: SessionDep) -> Response:
    service = container_of(request).oauth_device_sign_in
    try:
        sign_in = await service.start(session.administrator.username)
    except SignInFailedError as failed:
        return redirect_with_notices(request, session, "/mail-settings", outcome_notices(failed.outcome))
    except SettingsValidationError as refused:
        notice = Notice(False, f"{CANNOT_START} {human_errors(refused.errors)}")
        return redirect_with_notices(request, session, "/mail-settings", [notice])
    except DeviceSignInBusyError as busy:
        return redirect_with_notices(request, session, PAGE, [Notice(False, str(busy))])
    service.wait_in_background(sign_in)
    return redirect(PAGE)  # Post/Redirect/Get: a reload shows the code, it does not ask for another


@router.get(PAGE)
async def page(request: Request, session: SessionDep) -> Response:
    sign_in = await container_of(request).oauth_device_sign_in.current()
    if sign_in is None:
        return redirect("/mail-settings")
    context = await layout(
        request, session, sign_in=sign_in, notices=take_notices(request, session), **_progress(sign_in)
    )
    response = render(request, "device_sign_in.html", context)
    forget_notices(request, response)
    return response


@router.get(PAGE + "/status")
async def status(request: Request, session: SessionDep) -> Response:
    """The part of the page htmx asks for every few seconds until the sign-in ends."""
    return await _status_fragment(request, session)


@router.post(PAGE + "/cancel")
async def cancel(request: Request, session: SessionDep) -> Response:
    await container_of(request).oauth_device_sign_in.cancel()
    if request.headers.get("HX-Request") == "true":
        return await _status_fragment(request, session)
    return redirect(PAGE)


async def _status_fragment(request: Request, session: SessionDep) -> Response:
    sign_in = await container_of(request).oauth_device_sign_in.current()
    if sign_in is None:
        return redirect("/mail-settings")
    context = await layout(request, session, sign_in=sign_in, **_progress(sign_in))
    return render(request, "_device_status.html", context)


def _progress(sign_in: DeviceSignIn) -> dict[str, Any]:
    """`waiting` while someone polls; `abandoned` when nobody does any more (the process that
    polled stopped) although it never finished."""
    now = datetime.now(UTC)
    waiting = sign_in.in_progress(now)
    abandoned = not waiting and sign_in.status in ("pending", "claimed")
    return {"waiting": waiting, "abandoned": abandoned, "expired": now >= sign_in.expires_at}
