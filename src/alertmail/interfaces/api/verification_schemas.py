"""Response schemas of `POST /api/v1/oauth/verify`, named by role. They hold claims, never a token."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from alertmail.interfaces.api.schemas import FailurePublic
from alertmail.services.oauth_verification import VerificationOutcome

__all__ = ["FindingPublic", "TokenClaimsPublic", "TokenVerificationPublic"]


class FindingPublic(BaseModel):
    """One thing Verify found: `code` is stable, `message` says what, `fix` the step that fixes it."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    severity: Literal["error", "warning"]
    message: str
    fix: str


class TokenClaimsPublic(BaseModel):
    """What the access token says about itself: audience, permissions, expiry."""

    model_config = ConfigDict(from_attributes=True)

    source: str
    audiences: list[str]
    roles: list[str]
    delegated: list[str]
    expires_at: datetime | None
    issuer: str
    tenant_id: str
    app_id: str
    subject: str


class TokenVerificationPublic(BaseModel):
    succeeded: bool
    message: str
    resource: str
    findings: list[FindingPublic]
    claims: TokenClaimsPublic | None = None
    failure: FailurePublic | None = None
    log_entry_id: int | None = None

    @classmethod
    def of(cls, outcome: VerificationOutcome) -> TokenVerificationPublic:
        return cls(
            succeeded=outcome.succeeded,
            message=outcome.message,
            resource=outcome.resource,
            findings=[FindingPublic.model_validate(finding) for finding in outcome.findings],
            claims=TokenClaimsPublic.model_validate(outcome.claims) if outcome.claims else None,
            failure=FailurePublic.model_validate(outcome.failure) if outcome.failure else None,
            log_entry_id=outcome.log_entry_id,
        )
