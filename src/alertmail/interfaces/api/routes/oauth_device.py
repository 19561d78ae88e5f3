"""/api/v1/oauth/device: sign in with a code (RFC 8628) for integrating developers. Start it, ask
how it is going, cancel it. The polling runs in this server's background, as for the web page."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from alertmail.errors import ConflictError
from alertmail.interfaces.api.deps import AdministratorDep, ContainerDep
from alertmail.interfaces.api.device_schemas import DeviceSignInPublic, DeviceSignInStatusPublic
from alertmail.interfaces.api.schemas import ErrorPublic, SignInPublic
from alertmail.services.oauth_device_signin import DeviceSignInBusyError

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/oauth/device", tags=["oauth2"])


@router.post(
    "",
    status_code=201,
    response_model=DeviceSignInPublic,
    responses={
        409: {"model": ErrorPublic, "description": "A sign-in with a code is already in progress"},
        422: {
            "model": ErrorPublic,
            "description": "The saved settings cannot sign in with a code (not OAuth2, Google, "
            "app-only, no device authorization endpoint): `errors` names the field",
        },
        502: {
            "model": SignInPublic,
            "description": "The provider refused to give a code; the reason is classified",
        },
    },
)
async def start(container: ContainerDep, admin: AdministratorDep) -> DeviceSignInPublic:
    """Ask the provider for a code and start polling for the approval in the background. Show
    `user_code` and `verification_uri`; then ask `GET` every `interval` seconds until it ends."""
    service = container.oauth_device_sign_in
    try:
        sign_in = await service.start(admin.username)
    except DeviceSignInBusyError as busy:
        raise ConflictError(str(busy)) from busy  # says who and until when, never the other's code
    service.wait_in_background(sign_in)
    return DeviceSignInPublic.of(sign_in)


@router.get("", response_model=DeviceSignInStatusPublic)
async def status(container: ContainerDep, admin: AdministratorDep) -> DeviceSignInStatusPublic:
    """How the sign-in with a code is going (or how the last one ended; `none` before any)."""
    service = container.oauth_device_sign_in
    sign_in = await service.current()
    poll = service.background_poll(sign_in.attempt) if sign_in is not None else None
    account = ""
    if sign_in is not None and sign_in.status == "succeeded" and (poll is None or poll.outcome is None):
        settings = (await container.settings.current()).settings
        account = (await container.oauth_tokens.status(settings)).account  # polled elsewhere
    return DeviceSignInStatusPublic.of(sign_in, poll, datetime.now(UTC), account=account)


@router.delete(
    "",
    status_code=204,
    responses={409: {"model": ErrorPublic, "description": "No sign-in with a code is in progress"}},
)
async def cancel(container: ContainerDep, admin: AdministratorDep) -> Response:
    """Cancel the sign-in with a code in progress: the polling stops, and a code approved
    afterwards is not stored."""
    if not await container.oauth_device_sign_in.cancel():
        raise ConflictError("No sign-in with a code is in progress: there is nothing to cancel.")
    return Response(status_code=204)
