"""Request and response schemas of the REST API, named by role."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from alertmail.domain.fallback import FallbackEmailType
from alertmail.domain.records import StoredSettings
from alertmail.domain.settings import public_view
from alertmail.services.oauth_signin import SignInOutcome
from alertmail.services.oauth_tokens import OAuthStatus
from alertmail.services.test_email import TestEmailResult


def _omit_not_null(schema: dict[str, Any]) -> None:
    """Each field may be left out, never sent as null: say so in the schema (None is only the
    Python default that means "not sent")."""
    for field in schema.get("properties", {}).values():
        options = [option for option in field.pop("anyOf", []) if option.get("type") != "null"]
        if len(options) == 1:
            field.update(options[0])
        elif options:
            field["anyOf"] = options
        field.pop("default", None)


class MailSettingsUpdate(BaseModel):
    """Fields to change. Omitted fields stay; an empty `password` or `client_secret` keeps the stored one."""

    # strict: what the schema calls an integer or a boolean must be one, not "587" or 0.
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_omit_not_null)

    from_address: str | None = None
    email_type: Literal["smtp", "native", "graph", "gmail_api"] | None = None
    hostname: str | None = None
    port: int | None = None
    encryption: Literal["none", "tls", "starttls"] | None = None
    auth_type: Literal["none", "basic", "oauth2"] | None = None
    username: str | None = None
    password: str | None = None
    oauth_provider: Literal["microsoft", "google", "custom"] | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    scopes: str | None = None
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    redirect_uri: str | None = None
    oauth_grant: Literal["authorization_code", "client_credentials"] | None = None
    oauth_app_testing: bool | None = None
    admin_contacts: list[str] | str | None = None
    daily_notice: bool | None = None
    daily_notice_time: str | None = None
    send_test_on_save: bool | None = None
    tls_trusted_ca: str | None = None
    connect_timeout: float | None = None
    max_connections: int | None = None
    messages_per_minute: int | None = None
    allow_plaintext_auth: bool | None = None
    graph_endpoint: str | None = None
    gmail_endpoint: str | None = None
    # The fallback transport: "none" (or "") for none; an empty fallback_password keeps the stored one.
    fallback_email_type: FallbackEmailType | Literal[""] | None = None
    fallback_hostname: str | None = None
    fallback_port: int | None = None
    fallback_encryption: Literal["none", "tls", "starttls"] | None = None
    # Checked by the settings rules, whose refusal says how a fallback signs in (never as a person).
    fallback_auth_type: str | None = None
    fallback_username: str | None = None
    fallback_password: str | None = None
    # A Graph fallback (app-only): an empty fallback_client_secret keeps the stored one.
    fallback_graph_endpoint: str | None = None
    fallback_tenant_id: str | None = None
    fallback_client_id: str | None = None
    fallback_client_secret: str | None = None
    fallback_after_minutes: int | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class MailSettingsPublic(BaseModel):
    """The settings as anyone may see them: secrets appear only as `password_set`, `client_secret_set`,
    `fallback_password_set` and `fallback_client_secret_set`."""

    version: int
    updated_at: datetime | None
    updated_by: str | None
    settings: dict[str, Any]

    @classmethod
    def of(cls, stored: StoredSettings) -> MailSettingsPublic:
        return cls(
            version=stored.version,
            updated_at=stored.updated_at,
            updated_by=stored.updated_by,
            settings=public_view(stored.settings),
        )


class FailurePublic(BaseModel):
    """Why a send failed: built straight from a `Classification` (`model_validate(found)`)."""

    model_config = ConfigDict(from_attributes=True)

    category: str
    retryable: bool
    message: str
    hint: str
    smtp_code: int | None
    enhanced_code: str | None
    provider_code: str | None
    # trace_id, correlation_id, timestamp (Microsoft), server (Exchange Online's reply),
    # error_description (Google and other providers): what the provider's support asks for.
    support_details: dict[str, str] = {}


class TestEmailRequest(BaseModel):
    __test__ = False
    model_config = ConfigDict(extra="forbid", strict=True)

    to: str | None = None


class TestEmailPublic(BaseModel):
    __test__ = False

    sent: bool
    to: str
    message: str
    failure: FailurePublic | None = None
    log_entry_id: int | None = None

    @classmethod
    def of(cls, result: TestEmailResult) -> TestEmailPublic:
        return cls(
            sent=result.sent,
            to=result.to,
            message=result.message,
            failure=FailurePublic.model_validate(result.failure) if result.failure else None,
            log_entry_id=result.log_entry_id,
        )


class SaveResultPublic(BaseModel):
    message: str
    changed: list[str]
    settings: MailSettingsPublic
    test_email: TestEmailPublic | None = None
    test_email_problem: str | None = None


class MailLogEntryPublic(FailurePublic):
    """One Mail Server Logs entry: the failure, and when, where and with which settings it happened.

    Built from a `MailLogEntry`; its `detail` (the library's own wording) stays in the log file.
    """

    id: int | None
    registered_at: datetime
    auth_type: str
    status: str
    context: str
    node: str
    settings_snapshot: dict[str, Any]


class MailLogPage(BaseModel):
    entries: list[MailLogEntryPublic]


class ErrorPublic(BaseModel):
    """Every error answer: the seed's sentence where there is one, and each field's problem."""

    message: str
    errors: list[dict[str, str]] = []


# --- OAuth2 ---------------------------------------------------------------------------------------


class AuthorizationPublic(BaseModel):
    """Where to send the browser. `redirect_uri` is what must be registered with the provider."""

    model_config = ConfigDict(from_attributes=True)  # built from an `AuthorizationRequest`

    authorization_url: str
    redirect_uri: str
    state: str
    expires_at: datetime


class CallbackCreate(BaseModel):
    """The address the provider sent the browser back to, pasted by the administrator."""

    model_config = ConfigDict(extra="forbid", strict=True)

    url: str


class SignInPublic(BaseModel):
    succeeded: bool
    message: str
    account: str = ""
    warning: str = ""
    failure: FailurePublic | None = None
    log_entry_id: int | None = None

    @classmethod
    def of(cls, outcome: SignInOutcome) -> SignInPublic:
        return cls(
            succeeded=outcome.succeeded,
            message=outcome.message,
            account=outcome.account,
            warning=outcome.warning,
            failure=FailurePublic.model_validate(outcome.failure) if outcome.failure else None,
            log_entry_id=outcome.log_entry_id,
        )


class OAuthStatusPublic(BaseModel):
    """Token health. Never a token."""

    state: str
    reason: str
    grant: str
    account: str
    obtained_at: datetime | None
    refreshed_at: datetime | None
    accepted_at: datetime | None
    access_expires_at: datetime | None
    refresh_risk_at: datetime | None
    risk: str
    last_error: str
    last_error_code: str
    last_error_at: datetime | None

    @classmethod
    def of(cls, status: OAuthStatus) -> OAuthStatusPublic:
        health = status.health
        return cls(
            state=health.state,
            reason=health.reason,
            grant=status.grant,
            account=status.account,
            obtained_at=status.obtained_at,
            refreshed_at=status.refreshed_at,
            accepted_at=status.accepted_at,
            access_expires_at=health.access_expires_at,
            refresh_risk_at=health.refresh_risk_at,
            risk=health.risk,
            last_error=status.last_error,
            last_error_code=status.last_error_code,
            last_error_at=status.last_error_at,
        )
