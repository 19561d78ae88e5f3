"""The session cookie and CSRF checks shared by the web pages and the REST API.

Cookies are HttpOnly and SameSite=Lax: Lax, not Strict, because the provider sends the browser back
to `/login/smtp-verification` from another site, and that callback should know who signed in. They
are Secure when the request came over HTTPS or `ALERTMAIL_PUBLIC_URL` is an https:// address.

Every state-changing request carries a CSRF token: a signed-in page's forms carry the session's
token as a hidden field and HTMX sends it as `X-CSRF-Token`. The forms shown before sign-in (login,
first-run setup) use a double-submit token: a random cookie and the same value in the form. Both
also check that a browser's Origin (or Referer) is this server's own.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

from alertmail.composition import Container
from alertmail.domain.ports import WebSession
from alertmail.errors import AlertmailError

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "CsrfError",
    "LoginRequiredError",
    "OptionalSessionDep",
    "SessionDep",
    "check_csrf",
    "check_form_token",
    "check_origin",
    "clear_session_cookie",
    "form_token",
    "remember_form_token",
    "session_from_request",
    "set_session_cookie",
]

SESSION_COOKIE = "alertmail_session"
FORM_COOKIE = "alertmail_form"  # the double-submit token of the forms shown before sign-in
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NOT_LOOKED_UP: Any = object()


class CsrfError(AlertmailError):
    """A state-changing request without this session's CSRF token: refused with 403."""

    category = "csrf"


class LoginRequiredError(AlertmailError):
    """A page needs a signed-in administrator: the browser is sent to the login page."""

    category = "login_required"


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def is_secure(request: Request) -> bool:
    return request.url.scheme == "https" or _container(request).config.public_url.startswith("https://")


def set_session_cookie(response: Response, request: Request, value: str) -> None:
    # No Max-Age: the server decides when a session ends; closing the browser ends it too.
    response.set_cookie(
        SESSION_COOKIE, value, httponly=True, samesite="lax", secure=is_secure(request), path="/"
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=is_secure(request), path="/")


async def session_from_request(request: Request) -> WebSession | None:
    """The live session of this request's cookie, looked up once per request."""
    found = getattr(request.state, "web_session", _NOT_LOOKED_UP)
    if found is _NOT_LOOKED_UP:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        found = await _container(request).web_sessions.resolve(cookie)
        request.state.web_session = found
    session: WebSession | None = found
    return session


async def _optional_session(request: Request) -> WebSession | None:
    return await session_from_request(request)


async def _required_session(request: Request) -> WebSession:
    session = await session_from_request(request)
    if session is None:
        raise LoginRequiredError("Sign in to continue")
    if request.method not in SAFE_METHODS:
        await check_csrf(request, session)
    return session


OptionalSessionDep = Annotated[WebSession | None, Depends(_optional_session)]
# A signed-in administrator; for POST and the like, also a valid CSRF token (field or header).
SessionDep = Annotated[WebSession, Depends(_required_session)]


async def check_csrf(request: Request, session: WebSession) -> None:
    check_origin(request)
    sent = request.headers.get(CSRF_HEADER) or await _form_field(request)
    if not sent or not secrets.compare_digest(sent, session.csrf_token):
        raise CsrfError("The request did not carry this session's CSRF token")


async def _form_field(request: Request) -> str:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return ""
    value = (await request.form()).get(CSRF_FIELD)
    return value if isinstance(value, str) else ""


def form_token(request: Request) -> str:
    """The double-submit token for a form shown before sign-in: the browser's, or a new one."""
    return request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(32)


def remember_form_token(request: Request, response: Response, token: str) -> None:
    response.set_cookie(FORM_COOKIE, token, httponly=True, samesite="strict", secure=is_secure(request))


def check_origin(request: Request) -> None:
    """A state-changing request a browser sends names the page it came from (Origin, else Referer):
    it must be this server's own origin, as the request addressed it or as ALERTMAIL_PUBLIC_URL
    names it. A request naming neither (not a browser) still needs its CSRF token."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed:
        return
    own = {_origin(str(request.base_url)), _origin(_container(request).config.public_url)}
    if claimed == "null" or _origin(claimed) not in own - {None}:
        raise CsrfError("The request came from another site (its Origin is not this server's)")


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


async def check_form_token(request: Request) -> None:
    check_origin(request)
    cookie = request.cookies.get(FORM_COOKIE, "")
    sent = await _form_field(request)
    if not cookie or not sent or not secrets.compare_digest(cookie, sent):
        raise CsrfError("The form did not carry its CSRF token")
