"""`EventIntake`: the 202 of `POST /api/v1/events` without FastAPI's machinery, and everything else
left to the route, body and all.

The middleware is run in front of a stand-in for the rest of the application that records what
reached it; the application behind it (container, exception handlers) is the real one. The
route's own answers (401, 422 naming the field...) are tested through the whole app in
test_events.py and test_api_tokens.py, which now pass through `EventIntake` first.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from alertmail.composition import Container
from alertmail.config import AppConfig
from alertmail.interfaces.api.event_intake import EventIntake
from tests.support.app import ADMIN, started_app
from tests.support.delivery import relay_changes

EVENT = {"type": "failover.version_mismatch", "details": {"primary_version": "1.4"}, "dedupe_key": "v"}


@dataclass
class RouteStandIn:
    """Where requests the intake does not answer go: it records each, with the body it received."""

    reached: list[tuple[str, str, bytes]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message: Message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.reached.append((scope["method"], scope["path"], body))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"route"})


@dataclass
class Intake:
    http: httpx.AsyncClient
    route: RouteStandIn
    container: Container
    token: str


@pytest.fixture
async def intake(app_config: AppConfig) -> AsyncIterator[Intake]:
    async with started_app(app_config) as (app, container, token):
        await container.settings.save(relay_changes(2525), actor="test")
        route = RouteStandIn()
        middleware = EventIntake(route)

        async def with_app(scope: Scope, receive: Receive, send: Send) -> None:
            await middleware({**scope, "app": app}, receive, send)  # as Starlette sets it

        transport = httpx.ASGITransport(app=with_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://alertmail.test") as http:
            yield Intake(http, route, container, token)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_valid_event_is_recorded_and_answered_202_without_the_route(intake: Intake) -> None:
    first = await intake.http.post("/api/v1/events", json=EVENT, headers=_bearer(intake.token))
    again = await intake.http.post("/api/v1/events", json=EVENT, headers=_bearer(intake.token))
    assert intake.route.reached == []
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.headers["content-type"] == "application/json"
    assert list(first.json()) == ["id", "disposition", "outbox_id", "repeats"]
    assert (first.json()["disposition"], first.json()["repeats"]) == ("mailed", 1)
    assert (again.json()["disposition"], again.json()["repeats"]) == ("coalesced", 2)
    stored = {s.event.id: s for s in await intake.container.notifications.recent()}
    assert stored[first.json()["id"]].event.source == f"api:{ADMIN}"
    assert stored[first.json()["id"]].outbox_id == first.json()["outbox_id"]


REFUSED: list[tuple[str, dict[str, str], Any]] = [
    ("no token", {}, EVENT),
    ("not a bearer token", {"Authorization": "Basic YWRtaW46eA=="}, EVENT),
    ("bearer without a token", {"Authorization": "Bearer "}, EVENT),
    ("unknown token", {"Authorization": "Bearer not-a-token"}, EVENT),
    ("unknown event type", {}, {**EVENT, "type": "no.such_type"}),
    ("a detail the domain refuses", {}, {**EVENT, "details": {"bad key!": "x"}}),
    ("a field the schema refuses", {}, {**EVENT, "extra": 1}),
    ("details not an object", {}, {**EVENT, "details": ["x"]}),
    ("a body that is not an object", {}, ["x"]),
    ("not JSON", {"Content-Type": "application/json"}, b"{not json"),
    ("not UTF-8", {"Content-Type": "application/json"}, b'{"type": "\xff"}'),
    ("another content type", {"Content-Type": "text/plain"}, json.dumps(EVENT).encode()),
    ("a +json content type", {"Content-Type": "application/vnd.x+json"}, json.dumps(EVENT).encode()),
]


@pytest.mark.parametrize(("case", "headers", "body"), REFUSED, ids=[case for case, _, _ in REFUSED])
async def test_what_the_intake_does_not_accept_reaches_the_route_with_its_body(
    intake: Intake, case: str, headers: dict[str, str], body: Any
) -> None:
    sent = {**_bearer(intake.token), **headers}
    if "no token" in case:
        sent.pop("Authorization")
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent.setdefault("Content-Type", "application/json")
    answer = await intake.http.post("/api/v1/events", content=content, headers=sent)
    assert (answer.status_code, answer.text) == (299, "route")
    assert intake.route.reached == [("POST", "/api/v1/events", content)]
    assert await intake.container.notifications.recent() == []  # nothing written on the way


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/v1/events"), ("POST", "/api/v1/events/")])
async def test_other_requests_pass_untouched(intake: Intake, method: str, path: str) -> None:
    content = json.dumps(EVENT).encode()
    headers = {**_bearer(intake.token), "Content-Type": "application/json"}
    answer = await intake.http.request(method, path, content=content, headers=headers)
    assert answer.status_code == 299
    assert intake.route.reached == [(method, path, content)]


async def test_the_whole_app_answers_as_the_route_did(app_config: AppConfig) -> None:
    """Through `create_app`: the intake's 202 and the route's (a +json type goes to the route) are
    the same bytes, but for the ids, and the same headers."""
    async with started_app(app_config) as (app, container, token):
        await container.settings.save(relay_changes(2525), actor="test")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://alertmail.test") as http:
            fast = await http.post("/api/v1/events", json=EVENT, headers=_bearer(token))
            routed = await http.post(
                "/api/v1/events",
                content=json.dumps({**EVENT, "dedupe_key": "w"}).encode(),
                headers={**_bearer(token), "Content-Type": "application/vnd.x+json"},
            )
    assert (fast.status_code, routed.status_code) == (202, 202)
    assert fast.json()["disposition"] == routed.json()["disposition"] == "mailed"
    assert list(fast.headers.keys()) == list(routed.headers.keys())
    assert fast.headers["content-type"] == routed.headers["content-type"]
    assert _without_ids(fast) == _without_ids(routed)


def _without_ids(answer: httpx.Response) -> bytes:
    found = answer.json()
    return answer.content.replace(found["id"].encode(), b"ID").replace(found["outbox_id"].encode(), b"OUTBOX")
