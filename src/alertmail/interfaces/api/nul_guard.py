"""NUL characters refused at the door: a 422 naming the field, before any route sees the request.

PostgreSQL cannot store U+0000 in text (SQLite can, so the two databases would disagree), and no
e-mail, header or log line may hold one. The domain refuses it in settings and event details; this
middleware refuses it in every JSON or form body the API and the web pages receive, so no field
added later can let one through.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alertmail.domain import messages

__all__ = ["NulGuard", "nul_fields", "read_body", "replay_body"]

_MARKS = (b"\x00", b"\\u0000", b"%00")
_CHECKED = ("application/json", "application/x-www-form-urlencoded")


class NulGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1").lower()
        if not content_type.startswith(_CHECKED):
            await self.app(scope, receive, send)
            return
        body, more = await read_body(receive)
        fields = nul_fields(body, content_type) if any(m in body.lower() for m in _MARKS) else []
        if fields:
            errors = [{"field": field, "message": "must not contain a NUL character"} for field in fields]
            response = JSONResponse({"message": messages.SAVE_FAILED, "errors": errors}, status_code=422)
            await response(scope, receive, send)
            return
        await self.app(scope, replay_body(body, more), send)


async def read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """The whole body, and the message that ended it early (a disconnect), if one did."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), [message]  # the client went away: let the app see it
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), []


def replay_body(body: bytes, after: list[Message]) -> Receive:
    """A `receive` that gives the app the body read already, then what came after it."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}, *after]

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return {"type": "http.disconnect"}

    return receive


def nul_fields(body: bytes, content_type: str) -> list[str]:
    """The fields (dotted paths) of a JSON or form body whose name or value holds a NUL."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return list(
            dict.fromkeys(name.replace("\x00", "\\0") or "body" for name, v in pairs if "\x00" in name + v)
        )
    try:
        document = json.loads(body)
    except ValueError:
        return ["body"] if b"\x00" in body else []
    return list(dict.fromkeys(_paths_with_nul(document, "")))


def _paths_with_nul(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if "\x00" in value:
            yield path or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                yield here.replace("\x00", "\\0")
            yield from _paths_with_nul(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths_with_nul(item, f"{path}[{index}]" if path else f"[{index}]")
