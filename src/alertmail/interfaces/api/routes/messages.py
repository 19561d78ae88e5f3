"""/api/v1/messages: the outbox, and a retry of a dead or held message."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from alertmail.domain.outbox import OutboxStatus
from alertmail.interfaces.api.deps import AdministratorDep, ContainerDep
from alertmail.interfaces.api.event_schemas import (
    HourOutcomesPublic,
    MessageDetail,
    MessagePage,
    MessagePublic,
)
from alertmail.interfaces.api.responses import not_found
from alertmail.interfaces.api.schemas import ErrorPublic

router = APIRouter(prefix="/api/v1/messages", tags=["messages"])


@router.get("", response_model=MessagePage)
async def list_messages(
    container: ContainerDep,
    admin: AdministratorDep,
    status: OutboxStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> MessagePage:
    messages = await container.outbox.list(status, limit)
    counts = await container.outbox.counts()
    return MessagePage(messages=[MessagePublic.model_validate(m) for m in messages], counts=dict(counts))


@router.get("/hourly", response_model=list[HourOutcomesPublic])
async def hourly_outcomes(
    container: ContainerDep, admin: AdministratorDep, days: Annotated[int, Query(ge=1, le=30)] = 7
) -> list[HourOutcomesPublic]:
    """Every UTC hour of the last `days` days, oldest first: messages sent, retried and dead."""
    return [HourOutcomesPublic.model_validate(h) for h in await container.delivery.hourly(days)]


@router.get("/{id}", response_model=MessageDetail, responses=not_found("outbox message with this id"))
async def get_message(container: ContainerDep, admin: AdministratorDep, id: str) -> MessageDetail:
    return MessageDetail.model_validate(await container.outbox.get(id))


@router.post(
    "/{id}/retry",
    response_model=MessagePublic,
    responses={
        **not_found("outbox message with this id"),
        409: {"model": ErrorPublic, "description": "The message is neither dead nor held"},
    },
)
async def retry_message(container: ContainerDep, admin: AdministratorDep, id: str) -> MessagePublic:
    """Queue a dead or held message again now (409 for a message in any other state)."""
    return MessagePublic.model_validate(await container.outbox.retry(id))


@router.post(
    "/{id}/cancel",
    response_model=MessagePublic,
    responses={
        **not_found("outbox message with this id"),
        409: {"model": ErrorPublic, "description": "The message is neither queued nor retrying"},
    },
)
async def cancel_message(container: ContainerDep, admin: AdministratorDep, id: str) -> MessagePublic:
    """Give up a queued or retrying message: it becomes dead and is not sent (409 otherwise)."""
    return MessagePublic.model_validate(await container.outbox.cancel(id))
