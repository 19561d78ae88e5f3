"""The ports of the device sign-in (RFC 8628). Apart from `ports.py`, which is long enough already."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from alertmail.domain.device_flow import DeviceAuthorization, DeviceSignIn, DeviceStatus
from alertmail.domain.oauth import TokenGrant
from alertmail.domain.settings import MailSettings

__all__ = ["DeviceAuthorizationClient", "DeviceSignInRepository"]


class DeviceAuthorizationClient(Protocol):
    """The provider's device authorization and token endpoints. Errors are raised as `OAuthError`
    (stage `device`): `authorization_pending` and `slow_down` too, for the caller to read."""

    async def device_authorization(self, settings: MailSettings) -> DeviceAuthorization: ...

    async def poll_device_token(self, settings: MailSettings, device_code: str) -> TokenGrant: ...


class DeviceSignInRepository(Protocol):
    """The one device sign-in, shared by every process on the database. Each change is a
    compare-and-set on the row's `attempt` and status, so a cancelled sign-in stays cancelled."""

    async def start(self, sign_in: DeviceSignIn, now: datetime) -> DeviceSignIn | None:
        """Store `sign_in` unless another one is in progress at `now`; that one is returned then."""
        ...

    async def get(self) -> DeviceSignIn | None: ...

    async def polled(self, attempt: str, now: datetime, interval: float) -> DeviceStatus | None:
        """Record a poll of `attempt` (and its interval); its status now, None if replaced."""
        ...

    async def move(
        self, attempt: str, old: DeviceStatus, new: DeviceStatus, *, message: str = "", reason: str = ""
    ) -> bool:
        """Move `attempt` from status `old` to `new`; False when it was not in `old` any more."""
        ...
