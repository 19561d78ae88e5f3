"""The Mail Settings page: save, send a test e-mail, sign in to the OAuth2 provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from alertmail.domain import messages
from alertmail.domain.ports import WebSession
from alertmail.domain.settings import (
    MICROSOFT_AUTHORIZE,
    MICROSOFT_DEVICE,
    MICROSOFT_TOKEN,
    PRESETS,
    MailSettings,
)
from alertmail.domain.settings_presets import CLOUD_LOGIN, GMAIL_SEND_SCOPE
from alertmail.errors import (
    AdministratorEmailMissingError,
    ConflictError,
    NotConfiguredError,
    SettingsValidationError,
)
from alertmail.interfaces.web.flash import forget_notices, redirect_with_notices, take_notices
from alertmail.interfaces.web.pages import Notice, container_of, layout, redirect
from alertmail.interfaces.web.session import SessionDep
from alertmail.interfaces.web.settings_form import (
    FALLBACK_TYPE_OPTIONS,
    LABELS,
    changes_from_form,
    field_errors,
    form_values,
    human_errors,
    submitted_values,
)
from alertmail.interfaces.web.templating import render
from alertmail.interfaces.web.verification_notices import verification_notices
from alertmail.services.oauth_signin import CALLBACK_PATH, SignInFailedError, SignInOutcome
from alertmail.services.settings_service import SaveResult
from alertmail.services.test_email import TestEmailResult

__all__ = ["outcome_notices", "outcome_page", "router"]

router = APIRouter(include_in_schema=False)

NOTHING_SAVED = "Nothing was saved. Fix these fields:"
SIGN_IN_REFUSED = "Sign In cannot start until these saved settings are fixed (Save them first):"
VERIFY_REFUSED = "Verify needs saved OAuth2 settings. Fix these fields (Save them first):"


@router.get("/mail-settings")
async def settings_page(request: Request, session: SessionDep) -> Response:
    response = await _page(request, session, notices=take_notices(request, session))
    forget_notices(request, response)
    return response


@router.post("/mail-settings")
async def save_settings(request: Request, session: SessionDep) -> Response:
    container = container_of(request)
    form = await _form(request)
    stored = await container.settings.current()
    admin = session.administrator.username
    try:
        result = await container.settings.save(
            changes_from_form(form, stored.settings), actor=admin, test_recipient_admin=admin
        )
    except SettingsValidationError as refused:
        values = submitted_values(form, stored.settings)
        notice = Notice(False, messages.SAVE_FAILED)
        return await _page(
            request, session, values=values, errors=field_errors(refused.errors), notices=[notice], status=422
        )
    except ConflictError as conflict:
        values = submitted_values(form, stored.settings)
        notice = Notice(False, f"{messages.SAVE_FAILED} {conflict}")
        return await _page(request, session, values=values, notices=[notice], status=409)
    # Post/Redirect/Get: a refresh of the page that follows repeats neither the save nor its test.
    return redirect_with_notices(request, session, "/mail-settings", _saved(result))


@router.post("/mail-settings/test-email")
async def send_test_email(request: Request, session: SessionDep) -> Response:
    form = await _form(request)
    notice = await _test_email(request, session, form)
    if request.headers.get("HX-Request") == "true":
        # A partial: htmx swaps only 2xx answers in, so the outcome is in the fragment, not the status.
        context = {"notices": [notice], "admin": session.administrator}
        return render(request, "_notices.html", context)
    return redirect_with_notices(request, session, "/mail-settings", [notice])


@router.post("/mail-settings/oauth/sign-in")
async def sign_in(request: Request, session: SessionDep) -> Response:
    """Sign In / Verify OAuth2 Provider: off to the provider, who sends the browser back to the callback."""
    container = container_of(request)
    try:
        started = await container.oauth_sign_in.begin(
            session.administrator.username, reached_at=_base_url(request)
        )
    except SignInFailedError as failed:
        # Post/Redirect/Get: a refresh must not ask the provider (and log the failure) again.
        return redirect_with_notices(request, session, "/mail-settings", outcome_notices(failed.outcome))
    except SettingsValidationError as refused:
        return await _page(
            request,
            session,
            errors=field_errors(refused.errors),
            error_title=SIGN_IN_REFUSED,
            status=422,
        )
    return redirect(started.authorization_url)


@router.post("/mail-settings/oauth/verify")
async def verify_token(request: Request, session: SessionDep) -> Response:
    """Verify: get a token as sending would and check its audience, permission and expiry. For
    app-only sending this is also the whole sign-in (fetching a token proves the settings)."""
    try:
        outcome = await container_of(request).oauth_verification.verify()
    except SettingsValidationError as refused:
        return await _page(
            request, session, errors=field_errors(refused.errors), error_title=VERIFY_REFUSED, status=422
        )
    return redirect_with_notices(request, session, "/mail-settings", verification_notices(outcome))


def outcome_notices(outcome: SignInOutcome) -> list[Notice]:
    notice = Notice(
        outcome.succeeded, outcome.message, failure=outcome.failure, log_entry_id=outcome.log_entry_id
    )
    return [notice, Notice(False, outcome.warning)] if outcome.warning else [notice]


async def outcome_page(
    request: Request, session: WebSession | None, outcome: SignInOutcome | None, *, refusal: str = ""
) -> Response:
    """The end of a sign-in, in the seed's words: complete, failed with the reason, or refused."""
    context: dict[str, Any] = {"outcome": outcome, "refusal": refusal}
    if session is not None:
        context = await layout(request, session, **context)
    status = 400 if outcome is None else 200 if outcome.succeeded else 502
    return render(request, "oauth_result.html", context, status_code=status)


async def _form(request: Request) -> dict[str, str]:
    return {name: str(value) for name, value in (await request.form()).items()}


async def _test_email(request: Request, session: WebSession, form: dict[str, str]) -> Notice:
    """The test e-mail with what the form shows, saved or not; nothing is saved."""
    container = container_of(request)
    stored = await container.settings.current()
    to = form.get("test_to", "").strip() or None
    try:
        result = await container.test_email.send_unsaved(
            changes_from_form(form, stored.settings), administrator=session.administrator.username, to=to
        )
    except AdministratorEmailMissingError as missing:
        return Notice(False, str(missing), edit_info=True)
    except SettingsValidationError as refused:
        return Notice(False, f"{messages.TEST_EMAIL_FAILED} {human_errors(refused.errors)}")
    except NotConfiguredError as refused:
        return Notice(False, f"{messages.TEST_EMAIL_FAILED} {refused}")
    return _test_notice(result)


def _test_notice(result: TestEmailResult) -> Notice:
    return Notice(result.sent, result.message, failure=result.failure, log_entry_id=result.log_entry_id)


def _saved(result: SaveResult) -> list[Notice]:
    notices = [Notice(True, messages.CHANGES_SAVED)]
    if result.test_email is not None:
        notices.append(_test_notice(result.test_email))
    if result.test_email_problem:
        notices.append(Notice(False, result.test_email_problem, edit_info=True))
    return notices


async def _page(
    request: Request,
    session: WebSession,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    notices: list[Notice] | None = None,
    error_title: str = NOTHING_SAVED,
    status: int = 200,
) -> Response:
    stored = await container_of(request).settings.current()
    context = await layout(
        request,
        session,
        stored=stored,
        values=values or form_values(stored.settings),
        errors=errors or {},
        error_title=error_title,
        notices=notices or [],
        presets=_presets(),
        labels=LABELS,
        fallback_types=FALLBACK_TYPE_OPTIONS,
        redirect=_redirect_check(request, stored.settings.redirect_uri),
        in_force=await _configuration_in_force(request),
        tab="settings",
    )
    return render(request, "mail_settings.html", context, status_code=status)


@dataclass(frozen=True)
class ConfigurationInForce:
    """Seed 004: a backup or traffic node's e-mail configuration is overwritten with the primary's.
    Said on a node that is not the primary, naming the node whose configuration is in force."""

    this_node: str
    this_state: str  # backup | traffic
    primary: str  # node id and host of the primary, or "" while none is up


async def _configuration_in_force(request: Request) -> ConfigurationInForce | None:
    cluster = container_of(request).cluster
    if cluster.is_primary:
        return None
    nodes = await cluster.status()
    me = next((s for s in nodes if s.this_node), None)
    primary = next((s.node for s in nodes if s.state == "primary"), None)
    state = "traffic" if cluster.options.role == "traffic" else "backup"
    return ConfigurationInForce(
        this_node=me.node.node_id if me else cluster.options.node_id,
        this_state=state,
        primary=f"{primary.node_id} ({primary.hostname})" if primary else "",
    )


def _presets() -> dict[str, dict[str, Any]]:
    """What choosing a provider fills in the form (Microsoft's endpoints follow the Tenant ID)."""
    presets = {name: dict(values) for name, values in PRESETS.items()}
    presets["microsoft"] |= {
        "authorization_endpoint": MICROSOFT_AUTHORIZE,
        "token_endpoint": MICROSOFT_TOKEN,
        "device_authorization_endpoint": MICROSOFT_DEVICE,
    }
    # What a field a previous preset filled goes back to when another provider is chosen.
    filled = {name for preset in presets.values() for name in preset}
    defaults = form_values(MailSettings.unconfigured())
    presets["_cleared"] = {name: defaults[name] for name in sorted(filled)}
    # Graph's endpoints follow its cloud and the tenant, its scope the grant; Gmail's scope is narrow.
    presets["_graph_clouds"] = dict(CLOUD_LOGIN)
    presets["_gmail"] = {"scopes": GMAIL_SEND_SCOPE}
    return presets


@dataclass(frozen=True)
class RedirectCheck:
    """The Redirect URI to register, and whether it reaches this server."""

    expected: str  # this server's callback, as the browser reaches it
    effective: str  # the saved one, or this server's when none is saved
    points_here: bool


def _base_url(request: Request) -> str:
    """This server as the browser reaches it: ALERTMAIL_PUBLIC_URL when set."""
    public_url = container_of(request).config.public_url
    return public_url.rstrip("/") if public_url else str(request.base_url).rstrip("/")


def _redirect_check(request: Request, saved: str) -> RedirectCheck:
    expected = _base_url(request) + CALLBACK_PATH
    effective = saved or expected
    return RedirectCheck(expected, effective, effective == expected)
