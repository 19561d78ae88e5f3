"""The Delivery tab's Events: what the appliance raised, newest first a page at a time, and what
became of each."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from alertmail.interfaces.web.pages import container_of, layout
from alertmail.interfaces.web.routes.delivery import filter_query, parse_before
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
    chosen, errors = _parse_filter(request, types)
    before = parse_before(request, errors)
    found = await notifications.page(
        event_type=chosen["type"] or None,
        disposition=chosen["disposition"] or None,
        before=before,
        limit=EVENTS_SHOWN,
    )
    context = {
        "tab": "delivery",
        "events": found.items,
        "event_types": types,
        "dispositions": DISPOSITIONS,
        "chosen": chosen,
        "filter_errors": errors,
        # Page links keep the filter: the next page is older events of the same type and fate.
        "older": filter_query(chosen | {"before": found.next.token()}) if found.next else None,
        "first_page": filter_query(chosen) if before is not None else None,
    }
    return render(request, "delivery_events.html", await layout(request, session, **context))


def _parse_filter(request: Request, types: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The type and disposition chosen; an unknown one is named in the errors and left out."""
    chosen = {name: request.query_params.get(name, "") for name in ("type", "disposition")}
    errors = {}
    if chosen["type"] and chosen["type"] not in types:
        errors["type"] = "is not an event type of this appliance"
        chosen["type"] = ""
    if chosen["disposition"] and chosen["disposition"] not in DISPOSITIONS:
        errors["disposition"] = "is not one of: " + ", ".join(DISPOSITIONS)
        chosen["disposition"] = ""
    return chosen, errors
