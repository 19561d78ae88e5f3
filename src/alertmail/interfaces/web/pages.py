"""What every signed-in page shows around its content: who is signed in, the CSRF token, the
re-authorization banner when the OAuth2 sign-in no longer works, and the fallback banner while mail
goes through the fallback transport."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse

from alertmail.composition import Container
from alertmail.domain.classification import Classification
from alertmail.domain.ports import WebSession
from alertmail.domain.records import StoredSettings
from alertmail.services.event_recipients import NO_RECIPIENTS_WARNING
from alertmail.services.oauth_tokens import OAuthStatus

__all__ = ["Notice", "container_of", "layout", "login_url", "oauth_status", "redirect", "safe_next"]


@dataclass(frozen=True)
class Notice:
    """One message above a form: the seed's sentence, and the classifier's reason beside a failure."""

    ok: bool
    text: str
    failure: Classification | None = None
    edit_info: bool = False  # the no-e-mail message links to System Administrators > Edit info
    log_entry_id: int | None = None


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def oauth_status(container: Container, stored: StoredSettings) -> OAuthStatus | None:
    """Token health while OAuth2 is the saved authentication type; None otherwise."""
    if stored.version == 0 or stored.settings.auth_type != "oauth2":
        return None
    return await container.oauth_tokens.status(stored.settings)


async def layout(request: Request, session: WebSession, **context: Any) -> dict[str, Any]:
    """The context of a signed-in page: `context` plus what the layout needs."""
    container = container_of(request)
    stored = context.get("stored") or await container.settings.current()
    status = context.get("oauth") or await oauth_status(container, stored)
    needs_sign_in = (
        status is not None
        and status.health.state == "reauthorization_required"
        and stored.settings.oauth_grant == "authorization_code"
    )
    nobody = (await container.notifications.recipients(stored.settings)).source == "none"
    transport = await container.fallback.state()
    return {
        "session": session,
        "admin": session.administrator,
        "csrf_token": session.csrf_token,
        "stored": stored,
        "oauth": status,
        "reauthorization_banner": needs_sign_in,
        "no_recipients_warning": NO_RECIPIENTS_WARNING if nobody else "",
        # Never hidden: while mail goes through the fallback, every page says so, and why.
        "fallback_in_use": transport if transport.active == "fallback" else None,
        **context,
    }


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: a path on this server only, never another site."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/mail-settings"


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(target, safe="/")
