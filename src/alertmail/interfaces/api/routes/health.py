"""/healthz: the process answers and its database does."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from alertmail.domain.fallback import TransportState
from alertmail.interfaces.api.deps import ContainerDep
from alertmail.services.event_recipients import NO_RECIPIENTS_WARNING

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def health(container: ContainerDep) -> dict[str, Any]:
    """200 while the database answers. `delivery` says whether mail is held for a configuration fix;
    `recipients` whom events are mailed to, with a warning when that is nobody; `degraded`, with
    counts, while messages have waited on configuration or retries past ALERTMAIL_STUCK_AFTER_MINUTES,
    and while mail goes through the fallback transport; `transport` says which one is active."""
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
    transport = await container.fallback.state()
    answer["transport"] = transport.active
    if transport.active == "fallback":  # working, but on the spare: a problem to see and to fix
        answer |= {"status": "degraded", "fallback": fallback_report(transport)}
    stuck = await container.housekeeping.stuck()
    if any(stuck.values()):  # mail that waits too long is a problem to see, not to fail over for
        answer |= {"status": "degraded", "stuck": stuck}
    return answer


def fallback_report(state: TransportState) -> dict[str, Any]:
    """Why mail goes through the fallback: since when, and the primary's failure and its fix."""
    failure = state.failure
    return {
        "since": state.active_since.isoformat() if state.active_since else None,
        "primary_category": failure.category if failure else "",
        "primary_failure": failure.message if failure else "",
        "primary_fix": failure.hint if failure else "",
    }
