"""System Administrators: list, add, remove, Edit info (the e-mail the test e-mail goes to), and
changing one's own password."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

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
    if form.get("new_password", "") != form.get("new_password_confirm", ""):
        return await _page(request, session, password_errors={"new_password_confirm": "does not match"})
    container = container_of(request)
    try:
        await container.administrators.change_password(
            session.administrator.username,
            current=form.get("current_password", ""),
            new=form.get("new_password", ""),
        )
    except SettingsValidationError as refused:
        return await _page(request, session, password_errors=field_errors(refused.errors))
    await container.web_sessions.end_others(session)
    return redirect("/administrators?done=password")


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
    status: int | None = None,
) -> Response:
    errors = bool(add_errors or password_errors)
    context: dict[str, Any] = {
        "administrators": await container_of(request).administrators.list(),
        "notices": notices or [],
        "add": add or {},
        "add_errors": add_errors or {},
        "password_errors": password_errors or {},
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
