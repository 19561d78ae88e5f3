"""Request dependencies: the services container and the authenticated administrator."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from alertmail.composition import Container
from alertmail.domain.records import Administrator
from alertmail.errors import UnauthorizedError
from alertmail.interfaces.web.session import SAFE_METHODS, check_csrf, session_from_request

_bearer = HTTPBearer(auto_error=False, description="An API token from `alertmail token create`")


async def get_container(request: Request) -> Container:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a hand-off per
    # request for a dictionary lookup.
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def current_administrator(
    request: Request,
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Administrator:
    """A bearer token, or the web UI's session cookie (then unsafe methods need the CSRF header)."""
    if credentials is not None:
        return await container.administrators.authenticate_token(credentials.credentials)
    session = await session_from_request(request)
    if session is None:
        raise UnauthorizedError("Sign in, or send an API token as 'Authorization: Bearer <token>'")
    if request.method not in SAFE_METHODS:
        await check_csrf(request, session)
    return session.administrator


AdministratorDep = Annotated[Administrator, Depends(current_administrator)]
