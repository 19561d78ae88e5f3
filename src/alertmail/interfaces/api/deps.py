"""Request dependencies: the services container and the authenticated administrator."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from alertmail.composition import Container
from alertmail.domain.records import Administrator
from alertmail.errors import UnauthorizedError

_bearer = HTTPBearer(auto_error=False, description="An API token from `alertmail token create`")


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def current_administrator(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Administrator:
    if credentials is None:
        raise UnauthorizedError("Sign in, or send an API token as 'Authorization: Bearer <token>'")
    return await container.administrators.authenticate_token(credentials.credentials)


AdministratorDep = Annotated[Administrator, Depends(current_administrator)]
