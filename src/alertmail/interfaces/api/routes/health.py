"""/healthz: the process answers and its database does."""

from __future__ import annotations

from fastapi import APIRouter

from alertmail.interfaces.api.deps import ContainerDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def health(container: ContainerDep) -> dict[str, str]:
    """200 while the database answers. `delivery` says whether mail is held for a configuration fix."""
    await container.settings.current()
    held = container.delivery_worker.blocked
    return {"status": "ok", "delivery": "held_for_configuration" if held else "ok"}
