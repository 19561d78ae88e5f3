"""/api/v1/events and /api/v1/event-types: the appliance raises events, administrators preview them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from alertmail.domain.delivery_report import PageCursor
from alertmail.domain.event_catalog import UnknownEventTypeError
from alertmail.errors import NotFoundError
from alertmail.interfaces.api.deps import AdministratorDep, ContainerDep, EventsCallerDep, container_of
from alertmail.interfaces.api.event_schemas import (
    EventAccepted,
    EventCreate,
    EventPublic,
    EventTypePublic,
    PreviewPublic,
)
from alertmail.interfaces.api.pages import NEXT_PAGE_LINK, CursorQuery, next_page_link
from alertmail.interfaces.api.responses import not_found

router = APIRouter(prefix="/api/v1", tags=["events"])


@router.post("/events", status_code=202, response_model=EventAccepted)
async def raise_event(request: Request, caller: EventsCallerDep, event: EventCreate) -> EventAccepted:
    """Record an event; 202 once it is committed. Its e-mail is queued, or folded into a digest."""
    # The hot path (issue #18): the container from the request, not a dependency of its own.
    source = f"api:{caller.administrator.username}"
    recorded = await container_of(request).notifications.raise_event(
        event.type, event.details, dedupe_key=event.dedupe_key, source=source
    )
    return EventAccepted.of(recorded)


@router.get(
    "/events",
    response_model=list[EventPublic],
    responses={200: {"headers": {"Link": NEXT_PAGE_LINK}}},
)
async def list_events(
    request: Request,
    response: Response,
    container: ContainerDep,
    caller: EventsCallerDep,
    type: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: CursorQuery = None,
) -> list[EventPublic]:
    """The newest events first, with what became of each, a page at a time: when older events are
    left, the `Link` header's `rel="next"` URL gives the next page (the same query, `before` set)."""
    found = await container.notifications.page(
        event_type=type, before=PageCursor.parse(before) if before else None, limit=limit
    )
    if found.next is not None:
        response.headers["Link"] = next_page_link(request, found.next)
    return [EventPublic.of(stored) for stored in found.items]


@router.get("/event-types", response_model=list[EventTypePublic])
async def list_event_types(container: ContainerDep, caller: EventsCallerDep) -> list[EventTypePublic]:
    return [EventTypePublic.model_validate(kind) for kind in container.notifications.event_types()]


@router.post(
    "/event-types/{name}/preview",
    response_model=PreviewPublic,
    responses=not_found("event type of that name"),
)
async def preview_event_type(
    container: ContainerDep,
    admin: AdministratorDep,
    name: str,
    details: Annotated[dict[str, Any] | None, Body(embed=True)] = None,
) -> PreviewPublic:
    """The e-mail an event of this type makes, with the given details or the type's examples."""
    try:
        return PreviewPublic.model_validate(container.notifications.preview(name, details))
    except UnknownEventTypeError as unknown:
        if unknown.name != name:
            raise
        # The path names a resource: an unknown one is not there, rather than badly asked for.
        raise NotFoundError(str(unknown)) from unknown
