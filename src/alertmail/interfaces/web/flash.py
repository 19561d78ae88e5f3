"""Post/Redirect/Get: a form's outcome survives the redirect in a short-lived cookie.

A successful POST answers 303 to the page, so refreshing the page repeats a GET, never the save or
the test e-mail. The notices ride along in a cookie signed with the session's CSRF token (a secret
of that session alone), so another session or a forged cookie cannot put words on the page; the
page that shows them deletes the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import asdict
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from alertmail.domain.classification import Classification
from alertmail.domain.ports import WebSession
from alertmail.interfaces.web.pages import Notice, redirect
from alertmail.interfaces.web.session import is_secure

__all__ = ["FLASH_COOKIE", "forget_notices", "redirect_with_notices", "take_notices"]

FLASH_COOKIE = "alertmail_flash"


def redirect_with_notices(
    request: Request, session: WebSession, url: str, notices: list[Notice]
) -> RedirectResponse:
    response = redirect(url)
    payload = base64.urlsafe_b64encode(json.dumps([_plain(n) for n in notices]).encode()).decode()
    response.set_cookie(
        FLASH_COOKIE,
        f"{payload}.{_signature(session, payload)}",
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
        max_age=60,
    )
    return response


def take_notices(request: Request, session: WebSession) -> list[Notice]:
    """The notices the last POST left for this session; none when the cookie is absent or forged."""
    payload, _, signature = request.cookies.get(FLASH_COOKIE, "").partition(".")
    if not payload or not hmac.compare_digest(signature, _signature(session, payload)):
        return []
    try:
        return [_notice(item) for item in json.loads(base64.urlsafe_b64decode(payload))]
    except (ValueError, TypeError, KeyError):
        return []


def forget_notices(request: Request, response: Response) -> None:
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, httponly=True, samesite="lax", secure=is_secure(request))


def _signature(session: WebSession, payload: str) -> str:
    key = ("flash:" + session.csrf_token).encode()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def _plain(notice: Notice) -> dict[str, Any]:
    return asdict(notice)


def _notice(item: dict[str, Any]) -> Notice:
    failure = item.pop("failure", None)
    return Notice(**item, failure=Classification(**failure) if failure else None)
