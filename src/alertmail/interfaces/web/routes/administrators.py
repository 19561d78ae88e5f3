"""System Administrators: list, add, remove, Edit info (the e-mail the test e-mail goes to),
changing one's own password, and API tokens (created, shown once, revoked)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from alertmail.domain.api_tokens import DEFAULT_TOKEN_LIFETIME
from alertmail.domain.ports import WebSession
from alertmail.errors import ConflictError, NotFoundError, SettingsValidationError
from alertmail.interfaces.web.pages import Notice, container_of, layout, redirect
from alertmail.interfaces.web.session import SessionDep
from alertmail.interfaces.web.settings_form import field_errors
from alertmail.interfaces.web.templating import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/administrators")
async def administrators_page(request: Request, session: SessionDep, done: str = "") -> Response:
    notices = [Notice(True, _DONE[done])] if done in _DONE else []
    return await _page(request, session, notices=notices)


_DONE = {
    "added": "The administrator was added.",
    "removed": "The administrator was removed.",
    "email": "Changes have been saved!",
    "password": "Your password was changed. Other browsers signed in as you were signed out.",
    "token-revoked": "The API token was revoked: it no longer works.",
}


@router.post("/administrators")
async def add_administrator(request: Request, session: SessionDep) -> Response:
    form = await _form(request)
    values = {"username": form.get("username", "").strip(), "email": form.get("email", "").strip()}
    try:
        await container_of(request).administrators.create(
            values["username"],
            email=values["email"] or None,
            password=form.get("password", ""),
            password_confirm=form.get("password_confirm", ""),
        )
    except SettingsValidationError as refused:
        return await _page(request, session, add=values, add_errors=field_errors(refused.errors))
    except ConflictError as conflict:
        return await _page(request, session, add=values, add_errors={"username": str(conflict)})
    return redirect("/administrators?done=added")


@router.post("/administrators/{username}/remove")
async def remove_administrator(request: Request, session: SessionDep, username: str) -> Response:
    try:
        await container_of(request).administrators.remove(username, acting=session.administrator.username)
    except (ConflictError, NotFoundError) as refused:
        return await _page(request, session, notices=[Notice(False, str(refused))], status=409)
    return redirect("/administrators?done=removed")


@router.get("/administrators/{username}/edit")
async def edit_info_page(request: Request, session: SessionDep, username: str) -> Response:
    admin = await container_of(request).administrators.get(username)
    if admin is None:
        return await _page(
            request,
            session,
            notices=[Notice(False, f"There is no administrator named {username!r}")],
            status=404,
        )
    return await _edit_page(request, session, username, admin.email or "")


@router.post("/administrators/{username}/edit")
async def edit_info(request: Request, session: SessionDep, username: str) -> Response:
    email = (await _form(request)).get("email", "").strip()
    try:
        await container_of(request).administrators.set_email(username, email or None)
    except SettingsValidationError as refused:
        return await _edit_page(request, session, username, email, field_errors(refused.errors))
    except NotFoundError as missing:
        return await _page(request, session, notices=[Notice(False, str(missing))], status=404)
    return redirect("/administrators?done=email")


@router.post("/account/password")
async def change_password(request: Request, session: SessionDep) -> Response:
    form = await _form(request)
    container = container_of(request)
    try:
        await container.administrators.change_password(
            session.administrator.username,
            current=form.get("current_password", ""),
            new=form.get("new_password", ""),
            new_confirm=form.get("new_password_confirm", ""),
        )
    except SettingsValidationError as refused:
        return await _page(request, session, password_errors=field_errors(refused.errors))
    await container.web_sessions.end_others(session)
    return redirect("/administrators?done=password")


@router.post("/administrators/tokens")
async def create_token(request: Request, session: SessionDep) -> Response:
    form = await _form(request)
    values = {name: form.get(name, "").strip() for name in ("name", "scope", "expires_in")}
    try:
        record, token = await container_of(request).administrators.create_token(
            values["name"], administrator=session.administrator.username, **_token_options(values)
        )
    except SettingsValidationError as refused:
        return await _page(request, session, token_form=values, token_errors=field_errors(refused.errors))
    except ConflictError as conflict:
        return await _page(request, session, token_form=values, token_errors={"name": str(conflict)})
    # Rendered, not redirected: the token is in this answer only, never in a URL or the database.
    return await _page(request, session, new_token=(record.name, token), status=201)


def _token_options(values: dict[str, str]) -> dict[str, str]:
    return {name: values[name] for name in ("scope", "expires_in") if values[name]}


@router.post("/administrators/tokens/{name}/revoke")
async def revoke_token(request: Request, session: SessionDep, name: str) -> Response:
    try:
        await container_of(request).administrators.revoke_token(name)
    except NotFoundError as missing:
        return await _page(request, session, notices=[Notice(False, str(missing))], status=404)
    return redirect("/administrators?done=token-revoked")


async def _form(request: Request) -> dict[str, str]:
    return {name: str(value) for name, value in (await request.form()).items()}


async def _page(
    request: Request,
    session: WebSession,
    *,
    notices: list[Notice] | None = None,
    add: dict[str, str] | None = None,
    add_errors: dict[str, str] | None = None,
    password_errors: dict[str, str] | None = None,
    token_form: dict[str, str] | None = None,
    token_errors: dict[str, str] | None = None,
    new_token: tuple[str, str] | None = None,
    status: int | None = None,
) -> Response:
    errors = bool(add_errors or password_errors or token_errors)
    administrators = container_of(request).administrators
    context: dict[str, Any] = {
        "administrators": await administrators.list(),
        "notices": notices or [],
        "add": add or {},
        "add_errors": add_errors or {},
        "password_errors": password_errors or {},
        "api_tokens": await administrators.list_tokens(),
        "now": datetime.now(UTC),
        "token_form": token_form or {"scope": "events", "expires_in": DEFAULT_TOKEN_LIFETIME},
        "token_errors": token_errors or {},
        "new_token": new_token,
        "section": "administrators",
    }
    code = status or (422 if errors else 200)
    return render(request, "administrators.html", await layout(request, session, **context), status_code=code)


async def _edit_page(
    request: Request, session: WebSession, username: str, email: str, errors: dict[str, str] | None = None
) -> Response:
    context = {"username": username, "email": email, "errors": errors or {}, "section": "administrators"}
    page = await layout(request, session, **context)
    return render(request, "edit_info.html", page, status_code=422 if errors else 200)
