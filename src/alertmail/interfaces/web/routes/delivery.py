"""The Delivery tab: the health of mail at a glance, the outbox newest first, retry and cancel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from alertmail.domain.delivery_report import PageCursor
from alertmail.domain.outbox import OUTBOX_STATUSES, OutboxStatus
from alertmail.errors import ConflictError, NotFoundError
from alertmail.interfaces.web.chart import hourly_chart
from alertmail.interfaces.web.flash import forget_notices, redirect_with_notices, take_notices
from alertmail.interfaces.web.pages import Notice, container_of, layout
from alertmail.interfaces.web.routes.mail_logs import LogFilter, parse_days
from alertmail.interfaces.web.session import SessionDep
from alertmail.interfaces.web.templating import render

__all__ = ["filter_query", "parse_before", "router"]

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
STATUS_LABELS = {
    "queued": "Queued",
    "sending": "Sending",
    "sent": "Sent",
    "retry_wait": "Retrying",
    "waiting_config": "Waiting on configuration",
    "dead": "Dead",
}


@router.get("/mail-settings/delivery")
async def delivery_page(request: Request, session: SessionDep) -> Response:
    container = container_of(request)
    chosen, errors = _parse_filter(request)
    created = (chosen.days.since, chosen.days.until)
    found = await container.delivery.messages(chosen.status, chosen.before, PAGE_SIZE, created)
    last_failures = await container.mail_logs.list(limit=1)
    context = {
        "tab": "delivery",
        "counts": await container.delivery.counts(),
        "last_failure": last_failures[0] if last_failures else None,
        "messages": found.items,
        "status": chosen.status or "",
        "days": chosen.days,
        "older": chosen.query(found.next.token()) if found.next else None,
        "first_page": chosen.query() if chosen.before is not None else None,
        "filter_errors": errors,
        "status_labels": STATUS_LABELS,
        "notices": take_notices(request, session),
        **await _chart(request),
    }
    response = render(request, "delivery.html", await layout(request, session, **context))
    forget_notices(request, response)
    return response


_DONE = {
    "retry": "The message was queued again: it is sent shortly.",
    "cancel": "The message was cancelled: it will not be sent.",
}


@router.post("/mail-settings/delivery/messages/{id}/{action}")
async def change_message(request: Request, session: SessionDep, id: str, action: str) -> Response:
    """Retry a dead or waiting message, or cancel a queued one; the outcome shows after the redirect."""
    outbox = container_of(request).outbox
    if action not in _DONE:
        return _back(request, session, Notice(False, f"{action!r} is not something a message can do"))
    try:
        await (outbox.retry(id) if action == "retry" else outbox.cancel(id))
    except (ConflictError, NotFoundError) as refused:
        return _back(request, session, Notice(False, str(refused)))
    return _back(request, session, Notice(True, _DONE[action]))


def _back(request: Request, session: SessionDep, notice: Notice) -> Response:
    return redirect_with_notices(request, session, "/mail-settings/delivery", [notice])


async def _chart(request: Request) -> dict[str, object]:
    """The 7-day hourly chart, or with `?chart=30d` the 30-day daily one."""
    delivery = container_of(request).delivery
    if request.query_params.get("chart") == "30d":
        return {"chart": hourly_chart(await delivery.daily(30), per_day=True), "per_day": True}
    return {"chart": hourly_chart(await delivery.hourly(7)), "per_day": False}


@dataclass(frozen=True)
class MessageFilter:
    status: OutboxStatus | None
    days: LogFilter  # the from and to dates, whole UTC days as on Mail Server Logs
    before: PageCursor | None

    def query(self, before: str = "") -> str:
        params = {"status": self.status, "from": self.days.start, "to": self.days.end, "before": before}
        return filter_query(params)


def filter_query(params: Mapping[str, object]) -> str:
    """A page link's query string: the filter's chosen values, the empty ones left out."""
    return urlencode({name: value for name, value in params.items() if value})


def parse_before(request: Request, errors: dict[str, str]) -> PageCursor | None:
    """The `before` cursor of a page link; one that is not is named in `errors` and the first page shown."""
    token = request.query_params.get("before", "")
    try:
        return PageCursor.parse(token) if token else None
    except ValueError:
        errors["before"] = "is not a page of this list: start again from the first page"
        return None


def _parse_filter(request: Request) -> tuple[MessageFilter, dict[str, str]]:
    errors: dict[str, str] = {}
    status_text = request.query_params.get("status", "")
    status = next((known for known in OUTBOX_STATUSES if known == status_text), None)
    if status_text and status is None:
        errors["status"] = "is not a message status"
    before = parse_before(request, errors)
    start, end = parse_days(request, errors)
    return MessageFilter(status, LogFilter("", start, end), before), errors
