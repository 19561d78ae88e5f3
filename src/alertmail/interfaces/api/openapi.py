"""The OpenAPI schema as this server knows it once started: the event types it accepts.

The catalog (built-in types plus the host application's, read at start) is fixed for the life of
the process, so the schema can list it: a client, or Schemathesis, then knows which `type` values
`POST /api/v1/events` accepts instead of learning it from a 422.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

__all__ = ["list_event_types_in_schema"]


def list_event_types_in_schema(app: FastAPI) -> Callable[[], dict[str, Any]]:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        container = getattr(app.state, "container", None)
        if container is None:
            return generate()  # not started: the plain schema (FastAPI caches it; reset below)
        cached = app.openapi_schema
        if cached is not None and "x-event-types" in cached:
            return cached
        app.openapi_schema = None
        schema = generate()
        names = sorted(kind.name for kind in container.notifications.event_types())
        schema["components"]["schemas"]["EventCreate"]["properties"]["type"]["enum"] = names
        schema["x-event-types"] = names
        return schema

    return openapi
