"""Turning alertmail errors into JSON answers: a sentence, each field's problem, never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

from alertmail.domain import messages
from alertmail.domain.event_catalog import UnknownEventTypeError
from alertmail.errors import (
    AdministratorEmailMissingError,
    AlertmailError,
    ConflictError,
    ForbiddenError,
    NotConfiguredError,
    NotFoundError,
    OAuthError,
    OAuthStateError,
    SettingsValidationError,
    UnauthorizedError,
)
from alertmail.interfaces.api.schemas import SignInPublic
from alertmail.services.oauth_signin import SignInFailedError

logger = logging.getLogger("alertmail.api")

_STATUS: dict[type[AlertmailError], int] = {
    SettingsValidationError: 422,
    NotFoundError: 404,
    ConflictError: 409,
    NotConfiguredError: 409,
    AdministratorEmailMissingError: 409,
    UnauthorizedError: 401,
    ForbiddenError: 403,
    OAuthStateError: 400,
    OAuthError: 502,
}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SettingsValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _request_validation)  # type: ignore[arg-type]
    app.add_exception_handler(UnknownEventTypeError, _unknown_event_type)  # type: ignore[arg-type]
    app.add_exception_handler(SignInFailedError, _sign_in_failed)  # type: ignore[arg-type]
    app.add_exception_handler(AlertmailError, _alertmail_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


def _body(message: str, errors: list[dict[str, str]] | None = None) -> dict[str, object]:
    return {"message": message, "errors": errors or []}


async def _validation(request: Request, exc: SettingsValidationError) -> JSONResponse:
    errors = [{"field": e.field, "message": e.message} for e in exc.errors]
    return JSONResponse(_body(_save_failed_or(request, str(exc)), errors), status_code=422)


async def _request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for error in exc.errors():
        location = [str(part) for part in error["loc"] if part not in ("body", "query", "path")]
        # Never echo the input back: it may be a password.
        errors.append({"field": ".".join(location) or "body", "message": str(error["msg"])})
    return JSONResponse(_body(_save_failed_or(request, "The request is not valid"), errors), 422)


# FastAPI's own answer to a body it cannot even decode (bytes that are not UTF-8, say).
_UNPARSABLE_BODY = "There was an error parsing the body"


async def _http_error(request: Request, exc: HTTPException) -> Response:
    """Starlette's and FastAPI's own refusals, in the API's error shape under /api/."""
    if not request.url.path.startswith("/api/"):
        return await http_exception_handler(request, exc)
    if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:
        errors = [{"field": "body", "message": "is not valid JSON"}]
        return JSONResponse(_body("The request is not valid", errors), status_code=422)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names the methods of the first route that matched the path: one of several here.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return JSONResponse(_body(str(exc.detail)), status_code=exc.status_code, headers=headers)


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> list[str]:
    """The methods some route answers at this path (asked of the router, as a request would)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]


async def _alertmail_error(request: Request, exc: AlertmailError) -> JSONResponse:
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 500)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(_body(str(exc)), status_code=status, headers=headers)


async def _unknown_event_type(request: Request, exc: UnknownEventTypeError) -> JSONResponse:
    body = _body(str(exc), [{"field": "type", "message": f"unknown event type {exc.name!r}"}])
    body["known_types"] = list(exc.known)
    return JSONResponse(body, status_code=422)


async def _sign_in_failed(request: Request, exc: SignInFailedError) -> JSONResponse:
    return JSONResponse(SignInPublic.of(exc.outcome).model_dump(mode="json"), status_code=502)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the server log (it holds no request body); the client gets a sentence.
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(_body(messages.SAVE_FAILED), status_code=500)


def _save_failed_or(request: Request, message: str) -> str:
    saving = request.method in ("PUT", "PATCH") and request.url.path.endswith("/mail-settings")
    return messages.SAVE_FAILED if saving else message
