"""Verify: obtain an access token the way sending would, and say whether it allows sending.

Runs before any mail. App-only settings (client credentials) fetch a new token, which also proves
the Client Secret; delegated settings use the stored sign-in (refreshed if it is about to expire).
The token's claims are then checked (`domain/token_checks.py`): its audience, the permission (in
`roles` for app-only, `scp` for delegated) and its expiry. Google's opaque tokens are described by
Google's token-info endpoint instead. Every failure goes to Mail Server Logs with its fix, like a
failed send; nothing is sent to the relay, Graph or Gmail.
"""

from __future__ import annotations

from dataclasses import dataclass

from alertmail.domain import messages
from alertmail.domain.classification import Classification, classify
from alertmail.domain.ports import SettingsRepository, TokenInfoSource
from alertmail.domain.records import MailLogEntry
from alertmail.domain.settings import MailSettings, settings_snapshot
from alertmail.domain.token_checks import Finding, Requirement, check_claims, not_inspectable, requirement_for
from alertmail.domain.token_claims import TokenClaims, claims_from_google_token_info, decode_access_token
from alertmail.errors import FieldError, OAuthError, SettingsValidationError
from alertmail.services.clock import Clock, utc_now
from alertmail.services.oauth_tokens import OAuthTokenService
from alertmail.services.sending import MailSendingService

__all__ = ["TokenVerificationService", "VerificationOutcome"]

CONTEXT = "OAuth2 verify"


@dataclass(frozen=True)
class VerificationOutcome:
    """What Verify found. `message` is the seed's sentence; never holds a token."""

    succeeded: bool
    message: str
    resource: str = ""
    findings: tuple[Finding, ...] = ()
    claims: TokenClaims | None = None
    failure: Classification | None = None  # getting the token failed before any check
    log_entry_id: int | None = None

    @property
    def reason(self) -> str:
        """The findings (or the failure) and their fixes, for a page or a terminal."""
        if self.failure is not None:
            return f"{self.failure.message}\nFix: {self.failure.hint}"
        return "\n".join(f"{finding.message}\nFix: {finding.fix}" for finding in self.findings)


class TokenVerificationService:
    def __init__(
        self,
        settings: SettingsRepository,
        tokens: OAuthTokenService,
        token_info: TokenInfoSource,
        sending: MailSendingService,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self._settings = settings
        self._tokens = tokens
        self._token_info = token_info
        self._sending = sending
        self._clock = clock

    async def verify(self) -> VerificationOutcome:
        """Raises `SettingsValidationError` when the saved settings send without OAuth2."""
        settings, requirement = await self._oauth_settings()
        try:
            token = await self._token(settings)
            claims, findings = await self._inspect(settings, requirement, token)
        except OAuthError as error:
            classification = classify(error, purpose="sign_in")  # nobody retries a Verify
            entry = await self._sending.record_failure(error, classification, settings, context=CONTEXT)
            return VerificationOutcome(
                False, messages.AUTHORIZATION_FAILED, requirement.resource, failure=classification,
                log_entry_id=entry.id,
            )  # fmt: skip
        errors = [finding for finding in findings if finding.severity == "error"]
        entries = [await self._record(settings, claims, finding) for finding in errors]
        return VerificationOutcome(
            succeeded=not errors,
            message=messages.AUTHORIZATION_FAILED if errors else messages.AUTHORIZATION_COMPLETE,
            resource=requirement.resource,
            findings=tuple(findings),
            claims=claims,
            log_entry_id=entries[0].id if entries else None,
        )

    async def _oauth_settings(self) -> tuple[MailSettings, Requirement]:
        stored = await self._settings.load()
        requirement = requirement_for(stored.settings) if stored.version else None
        if requirement is None:
            raise SettingsValidationError(
                [
                    FieldError(
                        "auth_type",
                        "must be OAuth 2.0 (oauth2), saved with the provider's settings, before Verify",
                    )
                ]
            )
        return stored.settings, requirement

    async def _token(self, settings: MailSettings) -> str:
        if settings.oauth_grant == "client_credentials":
            # A new token, not a cached one: it proves the Client Secret too, and carries the
            # permissions granted now (a token fetched before an admin consent lacks them).
            return (await self._tokens.refresh(settings)).access_token.get_secret_value()
        return await self._tokens.access_token(settings)

    async def _inspect(
        self, settings: MailSettings, requirement: Requirement, token: str
    ) -> tuple[TokenClaims | None, list[Finding]]:
        claims = decode_access_token(token)
        if claims is None and _google(settings):
            claims = await self._google_claims(settings, token)
            if claims is None:
                return None, [_refused_by_google()]
        if claims is None:
            return None, [not_inspectable(requirement)]
        return claims, check_claims(claims, requirement, self._clock())

    async def _google_claims(self, settings: MailSettings, token: str) -> TokenClaims | None:
        try:
            return claims_from_google_token_info(await self._token_info.google_token_info(settings, token))
        except OAuthError as error:
            if error.http_status == 400:  # Google: {"error": "invalid_token", ...} for a dead token
                return None
            raise

    async def _record(
        self, settings: MailSettings, claims: TokenClaims | None, finding: Finding
    ) -> MailLogEntry:
        support = {"finding": finding.code}
        if claims is not None:
            support |= {
                "audience": " ".join(claims.audiences),
                "roles": " ".join(claims.roles),
                "scp": " ".join(claims.delegated),
                "tenant_id": claims.tenant_id,
                "app_id": claims.app_id,
            }
        entry = MailLogEntry(
            registered_at=self._clock(),
            auth_type=settings.auth_type,
            status="error",
            category="oauth",
            retryable=False,
            message=finding.message,
            hint=finding.fix,
            settings_snapshot=settings_snapshot(settings),
            detail=f"verify: {finding.code}",
            context=CONTEXT,
            support_details={name: value for name, value in support.items() if value},
        )
        return await self._sending.record(entry)


def _google(settings: MailSettings) -> bool:
    # `str()`: the Gmail API E-mail Type comes with its own change to the settings' types.
    return settings.oauth_provider == "google" or str(settings.email_type) == "gmail_api"


def _refused_by_google() -> Finding:
    return Finding(
        "token_refused",
        "error",
        "Google's token-info endpoint says the access token is not valid (invalid_token).",
        "Sign In again (Mail Settings). If it repeats, check the Client ID and Client Secret Value.",
    )
