"""Schemas of `/api/v1/oauth/device` (sign in with a code), named by role. Never the device code:
until it expires, whoever holds it can exchange it for the mailbox's tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from alertmail.domain.device_flow import DeviceSignIn
from alertmail.services.oauth_device_signin import BackgroundPoll
from alertmail.services.oauth_signin import SignInOutcome

__all__ = ["DeviceFailurePublic", "DeviceSignInPublic", "DeviceSignInStatusPublic", "DeviceState"]

DeviceState = Literal["none", "pending", "approved", "expired", "denied", "failed", "cancelled", "abandoned"]

# The classification rules of a device sign-in's refusals that have a state of their own.
_STATE_OF_RULE: dict[str, DeviceState] = {
    "device_expired_token": "expired",
    "device_access_denied": "denied",
    "device_authorization_declined": "denied",
}
ABANDONED = (
    "Nobody is waiting for this sign-in with a code any more (the process that polled the provider "
    "stopped): start it again."
)


class DeviceSignInPublic(BaseModel):
    """A device sign-in just started: show `user_code` and `verification_uri` (or open
    `verification_uri_complete`, which has the code in it, where the provider gives one)."""

    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_at: datetime
    interval: float

    @classmethod
    def of(cls, sign_in: DeviceSignIn) -> DeviceSignInPublic:
        return cls(
            user_code=sign_in.user_code,
            verification_uri=sign_in.verification_uri,
            verification_uri_complete=sign_in.verification_uri_complete,  # checked when it came in
            expires_at=sign_in.expires_at,
            interval=sign_in.interval,
        )


class DeviceFailurePublic(BaseModel):
    """Why the sign-in failed: `category` (empty when the server that polled has restarted since),
    what happened and the step that fixes it; the entry in Mail Server Logs when known."""

    category: str
    message: str
    fix: str
    provider_code: str | None = None
    log_entry_id: int | None = None


class DeviceSignInStatusPublic(BaseModel):
    """How the device sign-in is going. `pending`: poll again after `interval` seconds
    (`slowed_down` when the provider asked for a longer one); `approved` names the `account`;
    `expired`, `denied` and `failed` carry `failure`; `none`: no sign-in with a code yet."""

    state: DeviceState
    message: str = ""
    user_code: str = ""
    verification_uri: str = ""
    verification_uri_complete: str = ""
    expires_at: datetime | None = None
    interval: float | None = None
    slowed_down: bool = False
    account: str = ""
    warning: str = ""
    failure: DeviceFailurePublic | None = None

    @classmethod
    def of(
        cls, sign_in: DeviceSignIn | None, poll: BackgroundPoll | None, now: datetime, *, account: str = ""
    ) -> DeviceSignInStatusPublic:
        if sign_in is None:
            return cls(state="none")
        outcome = poll.outcome if poll is not None else None
        state, failure = _ending(sign_in, outcome, now)
        return cls(
            state=state,
            message=ABANDONED if state == "abandoned" else sign_in.message,
            user_code=sign_in.user_code,
            verification_uri=sign_in.verification_uri,
            verification_uri_complete=sign_in.verification_uri_complete,  # checked when it came in
            expires_at=sign_in.expires_at,
            interval=sign_in.interval,
            slowed_down=poll is not None and sign_in.interval > poll.first_interval,
            account=(outcome.account if outcome is not None else "") or account,
            warning=outcome.warning if outcome is not None else "",
            failure=failure,
        )


def _ending(
    sign_in: DeviceSignIn, outcome: SignInOutcome | None, now: datetime
) -> tuple[DeviceState, DeviceFailurePublic | None]:
    if sign_in.status in ("pending", "claimed"):
        if sign_in.in_progress(now):
            return "pending", None
        return ("expired" if now >= sign_in.expires_at else "abandoned"), None
    if sign_in.status == "succeeded":
        return "approved", None
    if sign_in.status == "cancelled":
        return "cancelled", None
    if outcome is not None and outcome.failure is not None:
        found = outcome.failure
        failure = DeviceFailurePublic(
            category=found.category,
            message=found.message,
            fix=found.hint,
            provider_code=found.provider_code,
            log_entry_id=outcome.log_entry_id,
        )
        return _STATE_OF_RULE.get(found.rule, "failed"), failure
    # Polled by another process (a CLI) or before a restart: the stored sentences, no category.
    message, _, fix = sign_in.reason.partition("\nFix: ")
    return "failed", DeviceFailurePublic(category="", message=message, fix=fix)
