"""/api/v1/tokens: create (the token is in this answer only), list and revoke API tokens."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from alertmail.interfaces.api.deps import AdministratorDep, ContainerDep
from alertmail.interfaces.api.responses import not_found
from alertmail.interfaces.api.schemas import ErrorPublic
from alertmail.interfaces.api.token_schemas import TokenCreate, TokenCreated, TokenPublic

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


@router.get("", response_model=list[TokenPublic])
async def list_tokens(container: ContainerDep, admin: AdministratorDep) -> list[TokenPublic]:
    now = datetime.now(UTC)
    return [TokenPublic.of(token, now) for token in await container.administrators.list_tokens()]


@router.post(
    "",
    status_code=201,
    response_model=TokenCreated,
    responses={409: {"model": ErrorPublic, "description": "A token of that name exists"}},
)
async def create_token(body: TokenCreate, container: ContainerDep, admin: AdministratorDep) -> TokenCreated:
    """A new token for the calling administrator. Keep it: it is never shown again."""
    record, token = await container.administrators.create_token(
        body.name, administrator=admin.username, scope=body.scope, expires_in=body.expires_in
    )
    return TokenCreated(**TokenPublic.of(record, datetime.now(UTC)).model_dump(), token=token)


@router.delete(
    "/{name}",
    status_code=204,
    responses=not_found("API token of that name"),
)
async def revoke_token(name: str, container: ContainerDep, admin: AdministratorDep) -> Response:
    """Revoke: the token stops working at once."""
    await container.administrators.revoke_token(name)
    return Response(status_code=204)
