"""`alertmail oauth ...`: sign in to the OAuth2 provider, verify the token, see token health, refresh,
sign out."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import webbrowser
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from alertmail.domain.oauth import AuthorizationRequest
from alertmail.interfaces.cli.device_sign_in import sign_in_with_code
from alertmail.interfaces.cli.runtime import cli_actor, console, errors, run
from alertmail.interfaces.cli.verification_output import print_verification
from alertmail.services.oauth_signin import SignInFailedError, SignInOutcome
from alertmail.services.oauth_tokens import OAuthStatus

if TYPE_CHECKING:
    from alertmail.composition import Container

app = typer.Typer(help="OAuth2 sign-in, Verify (token claims) and token health.", no_args_is_help=True)

_POLL_SECONDS = 0.5


@app.command("sign-in")
def sign_in(
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Only print the address; do not open a browser.")
    ] = False,
    admin: Annotated[str | None, typer.Option(help="The administrator this sign-in is for.")] = None,
    device: Annotated[
        bool,
        typer.Option(
            "--device",
            help="Sign in with a code on another device (Microsoft and providers with a device "
            "authorization endpoint; not Google). Ctrl-C cancels.",
        ),
    ] = False,
) -> None:
    """Sign In / Verify OAuth2 Provider.

    Prints the provider's sign-in address, then finishes when the provider sends the browser back
    to alertmail (`alertmail serve` must be reachable at the Redirect URI), or when the address
    the browser ended on is pasted here: for appliances whose address the browser cannot reach.
    App-only (client credentials) settings are verified by getting a token; no browser is needed.

    With --device, prints a code and an address instead: open the address on any device, enter the
    code and sign in as the mailbox that sends; alertmail waits for the provider to say so. The app
    registration must allow it (Microsoft: Authentication, Allow public client flows: Yes).
    Each slow_down from the provider is said in one line, with the new interval.
    The API does the same: POST /api/v1/oauth/device starts it (the server polls), GET says
    how it is going, DELETE cancels it.
    Exit status 0 when signed in, 1 when refused, expired, declined or cancelled.
    """
    administrator = admin or cli_actor()
    if device:
        outcome = run(lambda c: sign_in_with_code(c, administrator))
    else:
        outcome = run(lambda c: _sign_in(c, administrator, open_browser=not no_browser))
    _print_outcome(outcome)
    if not outcome.succeeded:
        raise typer.Exit(1)


@app.command("verify")
def verify(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Check, before any mail, that the access token allows sending.

    Obtains a token as sending would (app-only: a new one; delegated: the stored sign-in) and
    reads its claims: the audience, the permission (SMTP.Send, SMTP.SendAsApp, Mail.Send) as an
    Application permission in `roles` or a Delegated one in `scp`, and the expiry. Exit 0 when the
    token allows sending, 1 with what is wrong and the admin-center step that fixes it.
    """
    outcome = run(lambda c: c.oauth_verification.verify())
    if as_json:
        from alertmail.interfaces.api.verification_schemas import TokenVerificationPublic

        body = TokenVerificationPublic.of(outcome).model_dump(mode="json")
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
    else:
        print_verification(outcome)
    if not outcome.succeeded:
        raise typer.Exit(1)


@app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Token health: state, account, when obtained and refreshed, expiry and refresh-token risk."""
    found = run(_status)
    if as_json:
        from alertmail.interfaces.api.schemas import OAuthStatusPublic

        sys.stdout.write(json.dumps(OAuthStatusPublic.of(found).model_dump(mode="json"), indent=2) + "\n")
        return
    health = found.health
    console.print(f"state: {health.state} ({health.reason})")
    for label, value in _status_lines(found):
        console.print(f"{label}: {value}")


@app.command("refresh")
def refresh() -> None:
    """Refresh the access token now (the daily keep-alive does this by itself)."""
    found = run(_refresh)
    expires = _when(found.health.access_expires_at)
    console.print(f"refreshed; state: {found.health.state}, access token expires {expires}")


@app.command("sign-out")
def sign_out() -> None:
    """Forget the stored tokens. Sending with OAuth2 stops until the next sign-in."""
    run(lambda c: c.oauth_tokens.sign_out())
    console.print("signed out: the stored tokens are deleted")


# --- the work -------------------------------------------------------------------------------


async def _sign_in(container: Container, administrator: str, *, open_browser: bool) -> SignInOutcome:
    service = container.oauth_sign_in
    settings = (await container.settings.current()).settings
    if settings.auth_type == "oauth2" and settings.oauth_grant == "client_credentials":
        return await service.verify_app_only()  # a token fetched is the sign-in; `oauth verify` checks it
    try:
        request = await service.begin(administrator)
    except SignInFailedError as refused:
        return refused.outcome
    _print_request(request)
    if open_browser:
        webbrowser.open(request.authorization_url)
    pasted = _read_line_in_background()
    while datetime.now(UTC) < request.expires_at:
        progress = await service.progress(request.state)
        if progress is not None and progress.status in ("succeeded", "failed"):
            # Finished by `alertmail serve` at the callback: its message and reason as it stored them.
            return SignInOutcome(progress.status == "succeeded", progress.message, warning=progress.reason)
        if pasted.done() and pasted.result().strip():
            return await service.complete_from_url(pasted.result(), administrator=administrator)
        await asyncio.sleep(_POLL_SECONDS)
    errors.print("The sign-in expired after 10 minutes without an answer; start it again.")
    raise typer.Exit(1)


def _read_line_in_background() -> asyncio.Future[str]:
    """One line of standard input, without keeping the process alive if none ever comes."""
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str] = loop.create_future()

    def deliver(text: str) -> None:
        if not line.done():
            line.set_result(text)

    def read() -> None:
        loop.call_soon_threadsafe(deliver, sys.stdin.readline())

    threading.Thread(target=read, name="paste-reader", daemon=True).start()
    return line


async def _status(container: Container) -> OAuthStatus:
    settings = (await container.settings.current()).settings
    return await container.oauth_tokens.status(settings)


async def _refresh(container: Container) -> OAuthStatus:
    settings = (await container.settings.current()).settings
    await container.oauth_tokens.refresh(settings)
    return await container.oauth_tokens.status(settings)


# --- printing ---------------------------------------------------------------------------------


def _print_request(request: AuthorizationRequest) -> None:
    console.print("Open this address in a browser and sign in with the mailbox that sends:")
    console.print(request.authorization_url)
    console.print(f"The provider must have this Redirect URI registered: {request.redirect_uri}")
    console.print(
        "Waiting for the provider to send the browser back to alertmail. If the browser cannot "
        "reach that address, paste the address it ended on here and press Enter:"
    )


def _print_outcome(outcome: SignInOutcome) -> None:
    target = console if outcome.succeeded else errors
    target.print(outcome.message)
    if outcome.account:
        console.print(f"Signed in as {outcome.account}")
    if outcome.reason:
        target.print(outcome.reason)


def _status_lines(found: OAuthStatus) -> list[tuple[str, str]]:
    health = found.health
    lines = [
        ("account", found.account or "-"),
        ("grant", found.grant or "-"),
        ("obtained", _when(found.obtained_at)),
        ("last refreshed", _when(found.refreshed_at)),
        ("access token expires", _when(health.access_expires_at)),
        ("refresh token at risk", _when(health.refresh_risk_at)),
    ]
    if health.risk:
        lines.append(("risk", health.risk))
    if found.last_error:
        lines.append(("last error", f"{found.last_error} ({_when(found.last_error_at)})"))
    return lines


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S} UTC"
