"""The answers every authenticated API operation may give besides its own, for the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from alertmail.interfaces.api.schemas import ErrorPublic

__all__ = ["AUTHENTICATED_RESPONSES", "not_found"]

AUTHENTICATED_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorPublic,
        "description": "No API token or signed-in session, or the token is unknown, revoked or expired",
    },
    403: {
        "model": ErrorPublic,
        "description": "The token's scope does not allow this (an `events` token outside events), "
        "or a signed-in browser's change came without its CSRF token",
    },
    422: {
        "model": ErrorPublic,
        "description": "The request is not valid: `errors` names each field and its problem; nothing changed",
    },
}


def not_found(what: str) -> dict[int | str, dict[str, Any]]:
    return {404: {"model": ErrorPublic, "description": f"There is no {what}"}}
