"""/healthz: the process answers and its database does."""

from __future__ import annotations

from fastapi import APIRouter

from alertmail.interfaces.api.deps import ContainerDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def health(container: ContainerDep) -> dict[str, str]:
    await container.settings.current()
    return {"status": "ok"}
