"""/metrics: Prometheus text format. Outbox, token and transport gauges are read from the database per
scrape."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from alertmail.interfaces.api.deps import ContainerDep

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
async def metrics(container: ContainerDep) -> Response:
    container.metrics.set_outbox(await container.outbox.counts())
    settings = (await container.settings.current()).settings
    state = None
    if settings.auth_type == "oauth2":
        state = (await container.oauth_tokens.status(settings)).health.state
    container.metrics.set_token_state(state)
    container.metrics.set_active_transport((await container.fallback.state()).active)
    return Response(container.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
