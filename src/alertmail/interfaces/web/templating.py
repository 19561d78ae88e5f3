"""Rendering pages: the Jinja2 environment, its filters, and the headers every page is sent with."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

import alertmail
from alertmail.domain.hints import OFFERS_GRAPH
from alertmail.interfaces.web.labels import category_label, setting_value

__all__ = ["PAGE_HEADERS", "render", "templates", "when"]

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# Scripts and styles only from this server (htmx's inline indicator style is turned off in the
# layout), no framing, and no Referer to other sites: a setup link or an OAuth callback carries a
# secret in its query. "same-origin", not "no-referrer": with no-referrer a browser sends
# `Origin: null` even to this server, and the Origin check of state-changing requests needs it.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def when(value: datetime | None) -> str:
    """A timestamp as the pages show it: UTC, to the second."""
    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S} UTC"


templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.filters["when"] = when
templates.env.globals["version"] = alertmail.__version__
templates.env.filters["category_label"] = category_label
templates.env.globals["setting_value"] = setting_value
templates.env.globals["OFFERS_GRAPH"] = OFFERS_GRAPH


def render(request: Request, name: str, context: Mapping[str, Any], *, status_code: int = 200) -> Response:
    response = templates.TemplateResponse(request, name, dict(context), status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    return response
