"""What the Mail Settings page says after Verify: the seed's sentence, then each finding and its fix."""

from __future__ import annotations

from alertmail.domain.classification import Classification
from alertmail.domain.token_checks import Finding
from alertmail.interfaces.web.pages import Notice
from alertmail.services.oauth_verification import VerificationOutcome

__all__ = ["verification_notices"]


def verification_notices(outcome: VerificationOutcome) -> list[Notice]:
    errors = [finding for finding in outcome.findings if finding.severity == "error"]
    warnings = [finding for finding in outcome.findings if finding.severity == "warning"]
    if outcome.failure is not None:
        return [Notice(False, outcome.message, failure=outcome.failure, log_entry_id=outcome.log_entry_id)]
    if not errors:
        return [Notice(True, outcome.message)] + [Notice(False, _said(w)) for w in warnings]
    head = Notice(False, outcome.message, failure=_as_reason(errors[0]), log_entry_id=outcome.log_entry_id)
    return [head] + [Notice(False, "", failure=_as_reason(f)) for f in errors[1:]]


def _as_reason(finding: Finding) -> Classification:
    # The notice shows a reason and its fix the way a failed send does; Verify's category is oauth.
    return Classification("oauth", False, finding.message, finding.fix, rule=f"verify_{finding.code}")


def _said(finding: Finding) -> str:
    return f"{finding.message} {finding.fix}"
