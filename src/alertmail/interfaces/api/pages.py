"""Keyset pages in the API: the `before` query parameter, and the `Link: <...>; rel="next"` header.

The body stays a plain list (what clients read before pages existed); the next page's URL rides in
the `Link` header (RFC 8288), as GitHub's API does, and is absent on the last page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import AfterValidator

from alertmail.domain.delivery_report import PageCursor

__all__ = ["NEXT_PAGE_LINK", "CursorQuery", "next_page_link"]


def _a_cursor(token: str | None) -> str | None:
    if token is not None:
        try:
            PageCursor.parse(token)
        except ValueError as exc:
            raise ValueError(
                "is not a page cursor: take it from the Link header of the previous page"
            ) from exc
    return token


CursorQuery = Annotated[
    str | None,
    Query(description='Where the page starts: the cursor of the previous page\'s `Link: <...>; rel="next"`.'),
    AfterValidator(_a_cursor),
]

NEXT_PAGE_LINK: dict[str, Any] = {
    "description": 'The next (older) page: `<URL>; rel="next"`; absent on the last page.',
    "schema": {"type": "string"},
}


def next_page_link(request: Request, cursor: PageCursor) -> str:
    """This request's path and query with `before` moved on to `cursor`, as a Link header value.

    A reference relative to the request (RFC 8288 allows it): no Host header, which a client or a
    proxy chose, is echoed back."""
    url = request.url.include_query_params(before=cursor.token())
    return f'<{url.path}?{url.query}>; rel="next"'
