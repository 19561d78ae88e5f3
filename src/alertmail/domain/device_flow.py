"""The device authorization grant (RFC 8628): sign in on another device by typing a short code.

For appliances whose administrator has no browser that can reach them. alertmail asks the
provider's device authorization endpoint for a code, shows the user code and the verification URL,
and polls the token endpoint every `interval` seconds until the administrator has approved, declined
or let the code expire. What the token endpoint answers while waiting is decided here
(`poll_answer`); who may start a device sign-in, and why not, too (`device_flow_refusal`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import SecretStr

from alertmail.domain.settings import MailSettings, device_endpoint
from alertmail.domain.transport_security import endpoint_problem
from alertmail.errors import FieldError, OAuthError

__all__ = [
    "DEFAULT_INTERVAL",
    "DEVICE_GRANT_TYPE",
    "SLOW_DOWN_STEP",
    "DeviceAuthorization",
    "DeviceSignIn",
    "DeviceStatus",
    "PollAnswer",
    "device_flow_refusal",
    "held_until",
    "parse_device_authorization",
    "poll_answer",
]

DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5.0  # RFC 8628 section 3.2: when the provider names none
SLOW_DOWN_STEP = 5.0  # section 3.5: slow_down adds 5 seconds to this and every later poll
# A sign-in whose poller has not been heard of for this long (a killed CLI) no longer blocks others.
ABANDONED_AFTER = timedelta(seconds=30)

GOOGLE_REFUSAL = (
    "cannot sign in with a code for Google: Google's device flow does not allow Gmail scopes "
    "(it answers invalid_scope: Invalid device flow scope). Use Sign In in a browser instead"
)

DeviceStatus = Literal["pending", "claimed", "succeeded", "failed", "cancelled"]


@dataclass(frozen=True)
class DeviceAuthorization:
    """What the device authorization endpoint answered (RFC 8628 section 3.2)."""

    device_code: SecretStr
    user_code: str
    verification_uri: str
    expires_in: float
    interval: float = DEFAULT_INTERVAL
    verification_uri_complete: str = ""


@dataclass(frozen=True)
class DeviceSignIn:
    """The one device sign-in: in progress or the last one finished. Held in the database, so the
    web app and a CLI process on the same database see the same one and can cancel it."""

    attempt: str  # a random id: whoever polls checks the row is still theirs
    administrator: str
    device_code: SecretStr
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    interval: float
    created_at: datetime
    expires_at: datetime
    held_until: datetime  # its poller renews this with every poll; a killed one lets it lapse
    status: DeviceStatus = "pending"
    message: str = ""  # the seed's sentence once finished
    reason: str = ""  # the classified reason and fix of a failure, or an account warning

    def in_progress(self, now: datetime) -> bool:
        """Pending, not expired, and its poller alive: another device sign-in must wait."""
        return self.status in ("pending", "claimed") and now < min(self.expires_at, self.held_until)

    @property
    def link(self) -> str:
        """The address to open, with the code in it when the provider gave one that is safe."""
        complete = self.verification_uri_complete
        return complete if complete and endpoint_problem(complete) is None else self.verification_uri

    def slowed_down(self) -> DeviceSignIn:
        return replace(self, interval=self.interval + SLOW_DOWN_STEP)


PollAnswer = Literal["wait", "slow_down", "give_up"]


def poll_answer(error: OAuthError) -> PollAnswer:
    """What a refused poll means (RFC 8628 section 3.5): wait and ask again, slow down, or stop.

    A network failure or a provider error of the 5xx kind is passing: polling goes on until the
    code expires. Anything else (expired_token, access_denied, Microsoft's authorization_declined,
    AADSTS53003 and every other refusal) ends the sign-in.
    """
    if error.error == "authorization_pending":
        return "wait"
    if error.error == "slow_down":
        return "slow_down"
    transient = error.error in ("network_error", "temporarily_unavailable", "server_error")
    if transient or (error.http_status is not None and error.http_status >= 500):
        return "wait"
    return "give_up"


def device_flow_refusal(settings: MailSettings) -> FieldError | None:
    """Why these settings cannot sign in with a code, before anything is asked of the provider."""
    if settings.oauth_provider == "google":
        return FieldError("oauth_provider", GOOGLE_REFUSAL)
    if settings.oauth_grant == "client_credentials":
        return FieldError("oauth_grant", "app-only sending (client_credentials) has no sign-in: use verify")
    if not device_endpoint(settings):
        return FieldError(
            "device_authorization_endpoint",
            "is required to sign in with a code: the provider's device authorization endpoint",
        )
    return None


_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")  # a code or an address shown on a page and a terminal


def parse_device_authorization(body: Mapping[str, Any]) -> DeviceAuthorization:
    """Read the device authorization response; ValueError naming what is missing or unusable.

    Everything in it is shown to the administrator (the code, the address), so it is checked here,
    where it crosses into alertmail: printable ASCII without spaces, and the address a web one.
    Google and Microsoft's v1 endpoint call the address `verification_url`.
    """
    uri = body.get("verification_uri") or body.get("verification_url")
    values = {name: body.get(name) for name in ("device_code", "user_code")} | {"verification_uri": uri}
    for name, value in values.items():
        if not isinstance(value, str) or not _PRINTABLE.match(value) or len(value) > 2000:
            raise ValueError(f"no usable {name}")
    if urlsplit(str(uri)).scheme not in ("http", "https"):
        raise ValueError("no usable verification_uri (not a web address)")
    complete = body.get("verification_uri_complete")
    complete_ok = (
        isinstance(complete, str) and _PRINTABLE.match(complete) and endpoint_problem(complete) is None
    )
    return DeviceAuthorization(
        device_code=SecretStr(str(values["device_code"])),
        user_code=str(values["user_code"]),
        verification_uri=str(uri),
        expires_in=_seconds(body.get("expires_in"), "expires_in", default=None),
        interval=_seconds(body.get("interval"), "interval", default=DEFAULT_INTERVAL),
        verification_uri_complete=str(complete) if complete_ok else "",
    )


def _seconds(value: Any, name: str, *, default: float | None) -> float:
    if value is None and default is not None:
        return default
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"no usable {name}") from None
    if not 0 < seconds <= 86_400:
        raise ValueError(f"no usable {name} ({seconds:g} seconds)")
    return seconds


def held_until(now: datetime, interval: float) -> datetime:
    """Until when a poll at `now` keeps the sign-in taken: a few intervals, at least 30 seconds."""
    return now + max(ABANDONED_AFTER, timedelta(seconds=3 * interval))
