"""The web UI: server-rendered pages (Jinja2, HTMX where a partial update helps), assets served locally.

`install(app, setup)` adds the pages, the static files and the answers to a missing sign-in or CSRF
token to the FastAPI application that also serves the REST API.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from alertmail.interfaces.web.pages import login_url, redirect
from alertmail.interfaces.web.routes import (
    administrators,
    auth,
    cluster,
    delivery,
    delivery_events,
    device_sign_in,
    mail_logs,
    mail_settings,
)
from alertmail.interfaces.web.session import CsrfError, LoginRequiredError
from alertmail.interfaces.web.templating import STATIC_DIR, render
from alertmail.services.web_sessions import FirstRunSetup

__all__ = ["install"]


def install(app: FastAPI, setup: FirstRunSetup) -> None:
    app.state.first_run_setup = setup
    for module in (
        auth,
        mail_settings,
        device_sign_in,
        mail_logs,
        delivery,
        delivery_events,
        administrators,
        cluster,
    ):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_api_route("/favicon.ico", _favicon, include_in_schema=False)
    app.add_exception_handler(LoginRequiredError, _login_required)  # type: ignore[arg-type]
    app.add_exception_handler(CsrfError, _csrf_refused)  # type: ignore[arg-type]


async def _favicon() -> Response:
    # Browsers and bookmarks ask for /favicon.ico whatever the page links: answer, not 404.
    icon = (STATIC_DIR / "favicon.svg").read_bytes()
    return Response(icon, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


async def _login_required(request: Request, exc: LoginRequiredError) -> Response:
    if request.headers.get("HX-Request") == "true":
        # htmx would swap the login page into a fragment; have it load the page instead.
        return Response(status_code=401, headers={"HX-Redirect": login_url(request)})
    return redirect(login_url(request))


async def _csrf_refused(request: Request, exc: CsrfError) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"message": str(exc), "errors": []}, status_code=403)
    return render(request, "csrf.html", {}, status_code=403)
