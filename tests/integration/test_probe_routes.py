"""/healthz answers a server just started without FastAPI preparing the other ~60 routes.

FastAPI prepares an included router's routes for requests (their dependency analysis, a second
time after the one at import) when a request is first matched against that router; routers are
matched in the order they were included. The probes' routers come first (api/app.py): a service
manager's first /healthz after a restart, and every probe or scrape after it, is matched against
them alone. Counted on FastAPI's own preparation step.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import routing

from alertmail.config import AppConfig
from alertmail.interfaces.api.app import create_app


@pytest.fixture
def prepared(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The path of every route FastAPI prepares for requests from now on."""
    paths: list[str] = []
    prepare = routing._EffectiveRouteContext.from_api_route.__func__  # type: ignore[attr-defined]

    def counted(cls: Any, *, original_route: Any, include_context: Any) -> Any:
        paths.append(original_route.path)
        return prepare(cls, original_route=original_route, include_context=include_context)

    monkeypatch.setattr(routing._EffectiveRouteContext, "from_api_route", classmethod(counted))
    return paths


async def test_the_first_healthz_prepares_only_the_probes_routes(
    app_config: AppConfig, prepared: list[str]
) -> None:
    app = create_app(app_config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://alertmail.test") as client:
            assert (await client.get("/healthz")).status_code == 200
            assert prepared == ["/healthz"]
            assert (await client.get("/metrics")).status_code == 200
            assert prepared == ["/healthz", "/metrics"]
            assert (await client.get("/api/v1/mail-settings")).status_code == 401
    assert "/api/v1/events" in prepared  # the list is real: routers before the third were prepared
