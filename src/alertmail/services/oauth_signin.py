"""Sign In / Verify OAuth2 Provider: the authorization-code flow with PKCE and a one-time state.

`begin(administrator)` checks the settings, asks the provider whether it accepts the request at
all (a redirect URI mismatch is otherwise only shown on the provider's own page and never comes
back), stores the sign-in (state hashed, PKCE verifier encrypted, ten minutes to live) and returns
the URL for the browser. The callback, `complete(...)`, claims the state once, exchanges the code
and stores the tokens; a failure is classified and kept in Mail Server Logs like a failed send.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from alertmail.domain import messages
from alertmail.domain.classification import Classification, classify
from alertmail.domain.oauth import (
    AUTHORIZATION_LIFETIME,
    AuthorizationRequest,
    PendingAuthorization,
    TokenGrant,
    account_from_claims,
    account_mismatch,
    provider_error,
)
from alertmail.domain.ports import OAuthAuthorizationRepository, OAuthClient, SettingsRepository
from alertmail.domain.settings import MailSettings
from alertmail.errors import AlertmailError, FieldError, OAuthError, OAuthStateError, SettingsValidationError
from alertmail.services.clock import Clock, utc_now
from alertmail.services.oauth_tokens import OAuthTokenService
from alertmail.services.sending import MailSendingService

__all__ = ["CALLBACK_PATH", "OAuthSignInService", "SignInFailedError", "SignInOutcome"]

CALLBACK_PATH = "/login/smtp-verification"
_CONTEXT = "OAuth2 sign-in"


@dataclass(frozen=True)
class SignInOutcome:
    """What the administrator is told. `message` is the seed's sentence, word for word."""

    succeeded: bool
    message: str
    account: str = ""
    warning: str = ""  # e.g. the account that signed in is not the mailbox that sends
    failure: Classification | None = None
    log_entry_id: int | None = None

    @property
    def reason(self) -> str:
        """One line for a page or a terminal: the classified reason and its fix, or the warning."""
        if self.failure is not None:
            return f"{self.failure.message}\nFix: {self.failure.hint}"
        return self.warning


class OAuthSignInService:
    def __init__(
        self,
        settings: SettingsRepository,
        authorizations: OAuthAuthorizationRepository,
        client: OAuthClient,
        tokens: OAuthTokenService,
        sending: MailSendingService,
        *,
        public_url: str = "",
        clock: Clock = utc_now,
    ) -> None:
        self._settings = settings
        self._authorizations = authorizations
        self._client = client
        self._tokens = tokens
        self._sending = sending
        self._public_url = public_url
        self._clock = clock

    def redirect_uri(self, settings: MailSettings, *, reached_at: str = "") -> str:
        """The Redirect URI to register: the saved one, else this server's callback, at
        ALERTMAIL_PUBLIC_URL or else at the address the browser reached it by (`reached_at`,
        the same one the Mail Settings page shows beside an empty Redirect URI)."""
        if settings.redirect_uri:
            return settings.redirect_uri
        base = self._public_url or reached_at
        if base:
            return base.rstrip("/") + CALLBACK_PATH
        raise SettingsValidationError(
            [
                FieldError(
                    "redirect_uri",
                    "is required: set it, or set ALERTMAIL_PUBLIC_URL to the address browsers reach "
                    f"alertmail at (the Redirect URI is then <that address>{CALLBACK_PATH})",
                )
            ]
        )

    async def begin(self, administrator: str, *, reached_at: str = "") -> AuthorizationRequest:
        """Start a sign-in for `administrator`; raises `SignInFailedError` when the provider refuses.
        `reached_at`: the base URL the administrator's browser uses, when the request came from one."""
        settings = await self.oauth_settings()
        if settings.oauth_grant == "client_credentials":
            raise SettingsValidationError(
                [
                    FieldError(
                        "oauth_grant", "app-only sending (client_credentials) has no sign-in: use verify"
                    )
                ]
            )
        redirect_uri = self.redirect_uri(settings, reached_at=reached_at)
        now = self._clock()
        state, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        url = self._client.authorization_url(
            settings, redirect_uri=redirect_uri, state=state, code_verifier=verifier
        )
        try:
            await self._client.preflight(url, time_limit=settings.connect_timeout)
        except OAuthError as error:
            raise SignInFailedError(await self.failed(error, settings)) from error
        expires = now + AUTHORIZATION_LIFETIME
        pending = PendingAuthorization(state, SecretStr(verifier), administrator, redirect_uri, now, expires)
        await self._authorizations.add(pending)
        return AuthorizationRequest(url, redirect_uri, state, expires)

    async def complete(
        self,
        *,
        state: str,
        code: str = "",
        error: str = "",
        error_description: str = "",
        administrator: str | None = None,
    ) -> SignInOutcome:
        """The callback. `administrator` is who delivers it when known (an API or CLI caller); a
        browser callback without a session is bound by the state alone."""
        pending = await self._claim(state, administrator)
        settings = (await self._settings.load()).settings
        try:
            if error:
                raise provider_error(
                    {"error": error, "error_description": error_description}, stage="authorize"
                )
            if not code:
                raise OAuthError(
                    "invalid_request", "the callback carried no authorization code", stage="authorize"
                )
            grant = await self._client.exchange_code(
                settings,
                code=code,
                code_verifier=pending.code_verifier.get_secret_value(),
                redirect_uri=pending.redirect_uri,
            )
        except OAuthError as failure:
            outcome = await self.failed(failure, settings)
        else:
            outcome = await self.signed_in(settings, grant)
        await self._authorizations.finish(
            state, succeeded=outcome.succeeded, message=outcome.message, reason=outcome.reason
        )
        return outcome

    async def complete_from_url(self, url: str, *, administrator: str | None) -> SignInOutcome:
        """The callback as a pasted URL: for appliances whose address the browser cannot reach."""
        query = {name: values[0] for name, values in parse_qs(urlsplit(url.strip()).query).items()}
        if "state" not in query:
            raise SettingsValidationError(
                [FieldError("url", "is not the address the provider sent the browser to: it has no state")]
            )
        return await self.complete(
            state=query["state"],
            code=query.get("code", ""),
            error=query.get("error", ""),
            error_description=query.get("error_description", ""),
            administrator=administrator,
        )

    async def progress(self, state: str) -> PendingAuthorization | None:
        """How a sign-in started by `begin` is going: for a CLI waiting on the browser."""
        return await self._authorizations.get(state)

    async def verify_app_only(self) -> SignInOutcome:
        """App-only sending: getting a token is the whole verification."""
        settings = await self.oauth_settings()
        try:
            await self._tokens.refresh(settings)
        except OAuthError as error:
            return await self.failed(error, settings)
        return SignInOutcome(True, messages.AUTHORIZATION_COMPLETE, account=settings.username)

    # --- steps ---------------------------------------------------------------------------------

    async def oauth_settings(self) -> MailSettings:
        """The saved settings, which must be OAuth2's: a sign-in of any kind starts from them."""
        stored = await self._settings.load()
        if stored.version == 0 or stored.settings.auth_type != "oauth2":
            raise SettingsValidationError(
                [
                    FieldError(
                        "auth_type",
                        "must be OAuth 2.0 (oauth2), saved with the provider's settings, before Sign In",
                    )
                ]
            )
        return stored.settings

    async def _claim(self, state: str, administrator: str | None) -> PendingAuthorization:
        # Checked before the claim, so a wrong caller cannot use up another administrator's sign-in.
        found = await self._authorizations.get(state) if state else None
        if found is not None and administrator is not None and found.administrator != administrator:
            raise OAuthStateError("This sign-in was started by another administrator; start your own.")
        pending = await self._authorizations.claim(state, self._clock()) if state else None
        if pending is None:
            raise OAuthStateError(
                "This sign-in is unknown, was already completed or has expired (after 10 minutes): "
                "start the sign-in again."
            )
        return pending

    async def signed_in(self, settings: MailSettings, grant: TokenGrant) -> SignInOutcome:
        """Store the tokens of a sign-in, however it was made (browser or code), and say what the
        administrator should know: the account that signed in, a mismatch, no refresh token."""
        account = account_from_claims(grant.id_token_claims)
        await self._tokens.store_sign_in(settings, grant, account=account)
        warnings = [account_mismatch(account, settings)]
        if grant.refresh_token is None:
            warnings.append(
                "The provider issued no refresh token, so sending stops when the access token expires. "
                "Add offline_access to the Scopes (Microsoft and most providers) and sign in again."
            )
        warning = " ".join(w for w in warnings if w)
        return SignInOutcome(True, messages.AUTHORIZATION_COMPLETE, account=account, warning=warning)

    async def failed(self, error: OAuthError, settings: MailSettings) -> SignInOutcome:
        """A refused sign-in, classified and kept in Mail Server Logs."""
        classification = classify(error, purpose="sign_in")  # nobody retries a sign-in
        entry = await self._sending.record_failure(error, classification, settings, context=_CONTEXT)
        return SignInOutcome(
            False, messages.AUTHORIZATION_FAILED, failure=classification, log_entry_id=entry.id
        )


class SignInFailedError(AlertmailError):
    """The provider refused to start the sign-in; `outcome` says why, already logged."""

    category = "oauth"

    def __init__(self, outcome: SignInOutcome) -> None:
        self.outcome = outcome
        super().__init__(outcome.message)
