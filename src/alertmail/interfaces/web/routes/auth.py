"""Sign in, sign out, and the first-run setup link that creates the first administrator."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from alertmail.errors import ConflictError, SettingsValidationError, UnauthorizedError
from alertmail.interfaces.web.pages import container_of, redirect, safe_next
from alertmail.interfaces.web.session import (
    SESSION_COOKIE,
    OptionalSessionDep,
    SessionDep,
    check_form_token,
    clear_session_cookie,
    form_token,
    remember_form_token,
    set_session_cookie,
)
from alertmail.interfaces.web.settings_form import field_errors
from alertmail.interfaces.web.templating import render
from alertmail.services.web_sessions import FirstRunSetup, LoginThrottledError, NewSession

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(session: OptionalSessionDep) -> Response:
    return redirect("/mail-settings" if session else "/login")


@router.get("/login")
async def login_page(request: Request, session: OptionalSessionDep, next: str = "") -> Response:
    if session is not None:
        return redirect(safe_next(next))
    return await _login_form(request, next=next)


@router.post("/login")
async def login(request: Request) -> Response:
    await check_form_token(request)
    form = await request.form()
    username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    target = str(form.get("next", ""))
    client = request.client.host if request.client else "unknown"
    try:
        started = await container_of(request).web_sessions.sign_in(
            username, password, client=client, user_agent=request.headers.get("user-agent", "")
        )
    except LoginThrottledError as throttled:
        return await _login_form(request, next=target, username=username, error=str(throttled), status=429)
    except UnauthorizedError as refused:
        return await _login_form(request, next=target, username=username, error=str(refused), status=401)
    return _signed_in(request, started, safe_next(target))


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    await container_of(request).web_sessions.end(request.cookies.get(SESSION_COOKIE, ""))
    response = redirect("/login")
    clear_session_cookie(response, request)
    return response


@router.get("/setup")
async def setup_page(request: Request, token: str = "") -> Response:
    return await _setup_form(request, token=token)


@router.post("/setup")
async def setup(request: Request) -> Response:
    await check_form_token(request)
    form = {name: str(value) for name, value in (await request.form()).items()}
    token = form.get("token", "")
    values = {"username": form.get("username", "").strip(), "email": form.get("email", "").strip()}
    container = container_of(request)
    try:
        admin = await _first_run(request).create_first(
            container.administrators,
            token,
            password=form.get("password", ""),
            password_confirm=form.get("password_confirm", ""),
            **values,
        )
    except SettingsValidationError as refused:
        errors = field_errors(refused.errors)
        return await _setup_form(request, token=token, values=values, errors=errors, status=422)
    except (UnauthorizedError, ConflictError):
        return await _setup_form(request, token=token, values=values)  # says why the link is spent
    started = await container.web_sessions.start(admin, user_agent=request.headers.get("user-agent", ""))
    return _signed_in(request, started, "/mail-settings")


def _first_run(request: Request) -> FirstRunSetup:
    setup: FirstRunSetup = request.app.state.first_run_setup
    return setup


def _signed_in(request: Request, started: NewSession, target: str) -> Response:
    response = redirect(target)
    set_session_cookie(response, request, started.cookie_value)
    return response


async def _login_form(
    request: Request, *, next: str, username: str = "", error: str = "", status: int = 200
) -> Response:
    token = form_token(request)
    no_administrator = not await container_of(request).administrators.list()
    context: dict[str, Any] = {
        "form_token": token,
        "next": next,
        "username": username,
        "error": error,
        "no_administrator": no_administrator,
    }
    response = render(request, "login.html", context, status_code=status)
    remember_form_token(request, response, token)
    return response


async def _setup_form(
    request: Request,
    *,
    token: str,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    has_administrator = bool(await container_of(request).administrators.list())
    usable = not has_administrator and _first_run(request).accepts(token)
    form = form_token(request)
    context = {
        "form_token": form,
        "token": token,
        "usable": usable,
        "has_administrator": has_administrator,
        "values": values or {},
        "errors": errors or {},
    }
    response = render(request, "setup.html", context, status_code=status if usable else 403)
    remember_form_token(request, response, form)
    return response
