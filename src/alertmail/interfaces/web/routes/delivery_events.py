"""The Delivery tab's Events: what the appliance raised, newest first, and what became of each."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from alertmail.interfaces.web.pages import container_of, layout
from alertmail.interfaces.web.session import SessionDep
from alertmail.interfaces.web.templating import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

EVENTS_SHOWN = 50
DISPOSITIONS = {
    "mailed": "Mailed",
    "coalesced": "Coalesced into a digest",
    "no_recipients": "No recipients",
}


@router.get("/mail-settings/delivery/events")
async def events_page(request: Request, session: SessionDep) -> Response:
    notifications = container_of(request).notifications
    types = {event_type.name: event_type.title for event_type in notifications.event_types()}
    chosen = {name: request.query_params.get(name, "") for name in ("type", "disposition")}
    errors = {}
    if chosen["type"] and chosen["type"] not in types:
        errors["type"] = "is not an event type of this appliance"
        chosen["type"] = ""
    if chosen["disposition"] and chosen["disposition"] not in DISPOSITIONS:
        errors["disposition"] = "is not one of: " + ", ".join(DISPOSITIONS)
        chosen["disposition"] = ""
    events = await notifications.recent(
        event_type=chosen["type"] or None, disposition=chosen["disposition"] or None, limit=EVENTS_SHOWN
    )
    context = {
        "tab": "delivery",
        "events": events,
        "event_types": types,
        "dispositions": DISPOSITIONS,
        "chosen": chosen,
        "filter_errors": errors,
        "shown_at_most": EVENTS_SHOWN,
    }
    return render(request, "delivery_events.html", await layout(request, session, **context))
