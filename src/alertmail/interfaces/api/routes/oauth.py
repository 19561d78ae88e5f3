"""/api/v1/oauth: start a sign-in, finish it from a pasted URL, verify the token, token health,
refresh, sign out."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from alertmail.errors import ConflictError, OAuthError
from alertmail.interfaces.api.deps import AdministratorDep, ContainerDep
from alertmail.interfaces.api.schemas import (
    AuthorizationPublic,
    CallbackCreate,
    ErrorPublic,
    OAuthStatusPublic,
    SignInPublic,
)
from alertmail.interfaces.api.verification_schemas import TokenVerificationPublic
from alertmail.services.oauth_signin import SignInOutcome

router = APIRouter(prefix="/api/v1/oauth", tags=["oauth2"])


@router.post(
    "/authorize",
    response_model=AuthorizationPublic,
    responses={
        422: {"model": ErrorPublic, "description": "OAuth2 is not configured, or no Redirect URI is known"},
        502: {"model": SignInPublic, "description": "The provider refused the sign-in request"},
    },
)
async def authorize(container: ContainerDep, admin: AdministratorDep) -> AuthorizationPublic:
    """Start Sign In / Verify OAuth2 Provider: open `authorization_url` in a browser."""
    return AuthorizationPublic.model_validate(await container.oauth_sign_in.begin(admin.username))


@router.post(
    "/callback",
    response_model=SignInPublic,
    responses={
        400: {"model": ErrorPublic, "description": "Unknown, used or expired state, or another's sign-in"},
        502: {"model": SignInPublic, "description": "The provider refused; the reason is classified"},
    },
)
async def finish_from_url(
    body: CallbackCreate, container: ContainerDep, admin: AdministratorDep
) -> JSONResponse:
    """Finish a sign-in with the address the browser ended on, when it could not reach alertmail."""
    outcome = await container.oauth_sign_in.complete_from_url(body.url, administrator=admin.username)
    return outcome_response(outcome)


@router.post(
    "/verify",
    response_model=TokenVerificationPublic,
    responses={
        422: {"model": ErrorPublic, "description": "The saved settings do not send with OAuth2"},
        502: {
            "model": TokenVerificationPublic,
            "description": "No token could be had, or it does not allow sending: each finding with its fix",
        },
    },
)
async def verify(container: ContainerDep, admin: AdministratorDep) -> JSONResponse:
    """Verify, before any mail: obtain a token as sending would and check its audience, permission
    (`roles` for app-only, `scp` for delegated) and expiry. Failures are kept in Mail Server Logs."""
    outcome = await container.oauth_verification.verify()
    body = TokenVerificationPublic.of(outcome).model_dump(mode="json")
    return JSONResponse(body, status_code=200 if outcome.succeeded else 502)


@router.get("/status", response_model=OAuthStatusPublic)
async def status(container: ContainerDep, admin: AdministratorDep) -> OAuthStatusPublic:
    settings = (await container.settings.current()).settings
    return OAuthStatusPublic.of(await container.oauth_tokens.status(settings))


@router.post(
    "/refresh",
    response_model=OAuthStatusPublic,
    responses={
        409: {
            "model": ErrorPublic,
            "description": "Nobody has signed in yet, or the sign-in must be repeated",
        },
        502: {"model": ErrorPublic, "description": "The provider refused the refresh"},
    },
)
async def refresh(container: ContainerDep, admin: AdministratorDep) -> OAuthStatusPublic:
    """Refresh the access token now (what the daily keep-alive does)."""
    settings = (await container.settings.current()).settings
    try:
        await container.oauth_tokens.refresh(settings)
    except OAuthError as exc:
        if exc.stage != "stored":
            raise
        # Nothing was asked of the provider: the state here is what stands in the way.
        raise ConflictError(_NO_USABLE_TOKEN.get(exc.error, str(exc))) from exc
    return OAuthStatusPublic.of(await container.oauth_tokens.status(settings))


_NO_USABLE_TOKEN = {
    "not_authorized": (
        "There is no token to refresh: nobody has signed in to the OAuth2 provider yet. "
        "Sign in first (Mail Settings > Sign In, or alertmail oauth sign-in)."
    ),
    "reauthorization_required": (
        "The token cannot be refreshed: sign in to the OAuth2 provider again "
        "(Mail Settings > Sign In, or alertmail oauth sign-in)."
    ),
}


@router.delete("/tokens", status_code=204)
async def sign_out(container: ContainerDep, admin: AdministratorDep) -> Response:
    """Forget the stored tokens: sending stops until the next sign-in."""
    await container.oauth_tokens.sign_out()
    return Response(status_code=204)


def outcome_response(outcome: SignInOutcome) -> JSONResponse:
    body = SignInPublic.of(outcome).model_dump(mode="json")
    return JSONResponse(body, status_code=200 if outcome.succeeded else 502)
