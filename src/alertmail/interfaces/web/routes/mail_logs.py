"""The Mail Server Logs tab: failures newest first, filtered by category and date, paged, and as CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.responses import Response

from alertmail.domain.records import MailLogEntry
from alertmail.interfaces.web.pages import container_of, layout
from alertmail.interfaces.web.session import SessionDep
from alertmail.interfaces.web.templating import PAGE_HEADERS, render, when
from alertmail.services.mail_logs import CATEGORIES, MAX_LIMIT, MailLogService

__all__ = ["LogFilter", "parse_days", "router"]

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
CSV_MAX_ROWS = 50_000
CSV_COLUMNS = (
    "registered_at",
    "auth_type",
    "status",
    "category",
    "message",
    "hint",
    "smtp_code",
    "enhanced_code",
    "provider_code",
    "support_details",
    "retryable",
    "context",
    "node",
    "settings_snapshot",
)


@dataclass(frozen=True)
class LogFilter:
    """The filter form, parsed. Dates are whole days in UTC, `to` included."""

    category: str = ""
    start: date | None = None
    end: date | None = None

    @property
    def since(self) -> datetime | None:
        return None if self.start is None else datetime.combine(self.start, time(), UTC)

    @property
    def until(self) -> datetime | None:
        return None if self.end is None else datetime.combine(self.end + timedelta(days=1), time(), UTC)

    def query(self, **extra: object) -> str:
        params = {"category": self.category, "from": self.start or "", "to": self.end or ""} | extra
        return urlencode({name: value for name, value in params.items() if value not in ("", None)})


def parse_filter(request: Request) -> tuple[LogFilter, dict[str, str]]:
    errors: dict[str, str] = {}
    category = request.query_params.get("category", "")
    if category and category not in CATEGORIES:
        errors["category"] = "is not a category of Mail Server Logs"
        category = ""
    start, end = parse_days(request, errors)
    return LogFilter(category, start, end), errors


def parse_days(request: Request, errors: dict[str, str]) -> tuple[date | None, date | None]:
    """The `from` and `to` dates of a filter form; a malformed one is named in `errors` and left out."""
    days: dict[str, date | None] = {}
    for name in ("from", "to"):
        text = request.query_params.get(name, "")
        try:
            days[name] = date.fromisoformat(text) if text else None
        except ValueError:
            errors[name] = "must be a date as YYYY-MM-DD"
            days[name] = None
    return days["from"], days["to"]


@router.get("/mail-settings/logs")
async def logs_page(request: Request, session: SessionDep) -> Response:
    chosen, errors = parse_filter(request)
    page = _page_number(request.query_params.get("page", "1"))
    entries = await _list(
        container_of(request).mail_logs, chosen, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
    )
    context = {
        "entries": entries[:PAGE_SIZE],
        "page": page,
        "newer": chosen.query(page=page - 1) if page > 1 else None,
        "older": chosen.query(page=page + 1) if len(entries) > PAGE_SIZE else None,
        "filter": chosen,
        "filter_errors": errors,
        "categories": CATEGORIES,
        "csv_query": chosen.query(),
        "tab": "logs",
    }
    if request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == "log-results":
        return render(request, "_log_results.html", context)
    return render(request, "mail_logs.html", await layout(request, session, **context))


@router.get("/mail-settings/logs.csv")
async def logs_csv(request: Request, session: SessionDep) -> Response:
    chosen, _ = parse_filter(request)
    service = container_of(request).mail_logs
    headers = dict(PAGE_HEADERS) | {"Content-Disposition": 'attachment; filename="mail-server-logs.csv"'}
    return StreamingResponse(
        _csv_lines(service, chosen), media_type="text/csv; charset=utf-8", headers=headers
    )


async def _list(
    service: MailLogService, chosen: LogFilter, *, limit: int, offset: int
) -> Sequence[MailLogEntry]:
    return await service.list(
        limit=limit, category=chosen.category or None, since=chosen.since, until=chosen.until, offset=offset
    )


async def _csv_lines(service: MailLogService, chosen: LogFilter) -> AsyncIterator[str]:
    yield _csv_row(CSV_COLUMNS)
    for offset in range(0, CSV_MAX_ROWS, MAX_LIMIT):
        batch = await _list(service, chosen, limit=MAX_LIMIT, offset=offset)
        for entry in batch:
            yield _csv_row(_csv_values(entry))
        if len(batch) < MAX_LIMIT:
            return


def _csv_values(entry: MailLogEntry) -> list[str]:
    values = {name: getattr(entry, name) for name in CSV_COLUMNS}
    values["registered_at"] = when(entry.registered_at)
    values["settings_snapshot"] = json.dumps(entry.settings_snapshot, sort_keys=True)
    values["support_details"] = json.dumps(entry.support_details, sort_keys=True)
    return ["" if values[name] is None else str(values[name]) for name in CSV_COLUMNS]


def _csv_row(values: Sequence[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([_inert(value) for value in values])
    return out.getvalue()


def _inert(value: str) -> str:
    # A relay's reply lands in these cells; a spreadsheet would run one starting with = + - @ as a formula.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _page_number(text: str) -> int:
    try:
        return max(1, int(text))
    except ValueError:
        return 1
