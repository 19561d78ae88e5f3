"""Request dependencies: the services container and who the request acts for.

`AdministratorDep` is the default for every route: an `admin` token or the web UI's session.
`EventsCallerDep` also lets an `events` token in; only the routes that raise and read events use it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from alertmail.composition import Container
from alertmail.domain.records import Administrator
from alertmail.errors import ForbiddenError, UnauthorizedError
from alertmail.interfaces.web.session import SAFE_METHODS, check_csrf, session_from_request
from alertmail.services.administrators import ApiCaller

_bearer = HTTPBearer(auto_error=False, description="An API token from `alertmail token create`")


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def get_container(request: Request) -> Container:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a hand-off per
    # request for a dictionary lookup.
    return container_of(request)


ContainerDep = Annotated[Container, Depends(get_container)]


async def current_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> ApiCaller:
    """A bearer token, or the web UI's session cookie (then unsafe methods need the CSRF header)."""
    # The container is read here, not as a dependency of its own: each level of dependencies
    # costs FastAPI more than the token check itself on `POST /api/v1/events` (issue #18).
    if credentials is not None:
        return await container_of(request).administrators.authenticate_token(credentials.credentials)
    session = await session_from_request(request)
    if session is None:
        raise UnauthorizedError("Sign in, or send an API token as 'Authorization: Bearer <token>'")
    if request.method not in SAFE_METHODS:
        await check_csrf(request, session)
    return ApiCaller(session.administrator, "admin")


EventsCallerDep = Annotated[ApiCaller, Depends(current_caller)]


async def current_administrator(caller: EventsCallerDep) -> Administrator:
    if caller.scope != "admin":
        raise ForbiddenError(
            f"This API token's scope is {caller.scope!r}: it may only raise and read events "
            "(an admin token or a signed-in administrator may do this)"
        )
    return caller.administrator


AdministratorDep = Annotated[Administrator, Depends(current_administrator)]
