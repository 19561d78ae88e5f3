"""`POST /api/v1/events` answered without FastAPI's routing and dependency solving, when all is well.

At 1,000 events a second FastAPI's machinery for this one route (matching some 60 routes,
solving the dependencies, validating the body through the route's field, serializing the
response model) cost more CPU than recording the event (issue #18). `EventIntake` does what the
route does, with the same pieces: the bearer token checked by `authenticate_token`, the body
validated by the same `EventCreate` model as FastAPI would (`json.loads`, then `model_validate`),
the event made and recorded by the same service, the answer serialized by `EventAccepted`.

It only ever answers 202. Any request it cannot accept as it stands (another path or method, no
bearer token, a body that is not a JSON object of the right shape, a token refused, an event the
service refuses before writing anything) goes on to the FastAPI route unchanged, body and all:
every refusal (401, 422 naming the field, 415...) is the route's, byte for byte. An error while
recording is answered by the application's exception handlers, as the route's would be.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from alertmail.composition import Container
from alertmail.domain.events import Event
from alertmail.errors import AlertmailError
from alertmail.interfaces.api.event_schemas import EventAccepted, EventCreate
from alertmail.interfaces.api.nul_guard import read_body, replay_body
from alertmail.services.notifications import NotificationService

__all__ = ["EVENTS_PATH", "EventIntake"]

EVENTS_PATH = "/api/v1/events"


class EventIntake:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_event_post(scope):
            await self.app(scope, receive, send)
            return
        body, after = await read_body(receive)
        answer = await self._accept(scope, body) if not after else None
        if answer is None:  # the route decides, on the same request
            await self.app(scope, replay_body(body, after), send)
            return
        await answer(scope, receive, send)

    async def _accept(self, scope: Scope, body: bytes) -> Response | None:
        """The 202 answer once the event is recorded, or None for the route to answer."""
        headers = _headers(scope)
        token = _bearer_token(headers.get(b"authorization"))
        if token is None or not _is_json(headers.get(b"content-type")):
            return None
        raised = _event_create(body)
        if raised is None:
            return None
        container: Container = scope["app"].state.container
        try:
            caller = await container.administrators.authenticate_token(token)
            event = container.notifications.new_event(
                raised.type,
                raised.details,
                dedupe_key=raised.dedupe_key,
                source=f"api:{caller.administrator.username}",
            )
        except AlertmailError:  # refused before anything was written: the route says why
            return None
        return await _recorded(container.notifications, event, scope)


def _is_event_post(scope: Scope) -> bool:
    return (
        scope["type"] == "http"
        and scope["method"] == "POST"
        and scope["path"] == EVENTS_PATH
        and not scope.get("root_path")
    )


def _headers(scope: Scope) -> dict[bytes, bytes]:
    # The first of each name, as Starlette's `Headers.get` gives it to FastAPI.
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        found.setdefault(name.lower(), value)
    return found


def _bearer_token(authorization: bytes | None) -> str | None:
    """The token as FastAPI's `HTTPBearer` reads it; None where it would give no credentials."""
    if not authorization:
        return None
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _is_json(content_type: bytes | None) -> bool:
    if content_type is None:
        return False
    media_type, _, _ = content_type.decode("latin-1").partition(";")
    return media_type.strip().lower() == "application/json"


def _event_create(body: bytes) -> EventCreate | None:
    """The body as FastAPI validates it for the route (`json.loads`, then the model), or None."""
    try:
        document: Any = json.loads(body)
        return EventCreate.model_validate(document, from_attributes=True)
    except (ValueError, ValidationError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None


async def _recorded(notifications: NotificationService, event: Event, scope: Scope) -> Response:
    try:
        recorded = await notifications.record(event)
    except AlertmailError as exc:
        return await _handled(scope, exc)
    return Response(
        EventAccepted.of(recorded).model_dump_json(), status_code=202, media_type="application/json"
    )


async def _handled(scope: Scope, exc: AlertmailError) -> Response:
    """The answer of the application's handler for `exc`, as the route's error would get."""
    handlers = scope["app"].exception_handlers
    handler = next((handlers[kind] for kind in type(exc).__mro__ if kind in handlers), None)
    if handler is None:
        raise exc
    response: Response = await handler(Request(scope), exc)
    return response
