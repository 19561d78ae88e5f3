"""/healthz: the process answers and its database does."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from alertmail.interfaces.api.deps import ContainerDep
from alertmail.services.event_recipients import NO_RECIPIENTS_WARNING

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def health(container: ContainerDep) -> dict[str, Any]:
    """200 while the database answers. `delivery` says whether mail is held for a configuration fix;
    `recipients` whom events are mailed to, with a warning when that is nobody; `degraded`, with
    counts, while messages have waited on configuration or retries past ALERTMAIL_STUCK_AFTER_MINUTES."""
    await container.settings.current()
    held = container.delivery_worker.blocked
    recipients = (await container.notifications.recipients()).source
    answer: dict[str, Any] = {
        "status": "ok",
        "delivery": "held_for_configuration" if held else "ok",
        "recipients": recipients,
    }
    if recipients == "none":
        answer["warnings"] = [NO_RECIPIENTS_WARNING]
    stuck = await container.housekeeping.stuck()
    if any(stuck.values()):  # mail that waits too long is a problem to see, not to fail over for
        answer |= {"status": "degraded", "stuck": stuck}
    return answer
