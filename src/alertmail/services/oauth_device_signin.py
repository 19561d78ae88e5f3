"""Sign in with a code: the device authorization grant (RFC 8628), for appliances without a browser.

`start(administrator)` checks the settings (Google is refused here, before any request: its device
flow does not allow Gmail scopes), asks the provider's device authorization endpoint for a code and
stores the sign-in in the database, unless one is in progress already: one at a time, whichever
process (the web app, a CLI) started it. `wait(sign_in)` then polls the token endpoint every
`interval` seconds (five more after each `slow_down`) until the administrator approved, declined or
let the code expire. Before every poll it renews its hold on the row and reads its status, so a
cancel from anywhere stops the polling. The tokens are stored, and a failure classified and
logged, by the browser sign-in's own code (`OAuthSignInService.signed_in` / `.failed`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from alertmail.domain.device_flow import (
    DeviceSignIn,
    DeviceStatus,
    device_flow_refusal,
    held_until,
    poll_answer,
)
from alertmail.domain.device_ports import DeviceAuthorizationClient, DeviceSignInRepository
from alertmail.domain.oauth import TokenGrant
from alertmail.domain.settings import MailSettings
from alertmail.errors import AlertmailError, OAuthError, SettingsValidationError
from alertmail.services.clock import Clock, utc_now
from alertmail.services.oauth_signin import SignInFailedError, SignInOutcome

__all__ = [
    "CANCELLED",
    "BackgroundPoll",
    "DeviceSignInBusyError",
    "DeviceSignInService",
    "SignInSteps",
    "SlowDownListener",
]

logger = logging.getLogger("alertmail.oauth")

CANCELLED = (
    "The sign-in with a code was cancelled: alertmail stopped asking the provider, and nothing changed."
)
REPLACED = "This sign-in with a code is no longer the current one: nothing changed."
STOPPED = "alertmail stopped while waiting for this sign-in with a code: start it again."


class SignInSteps(Protocol):
    """What a device sign-in shares with the browser sign-in (`OAuthSignInService`): the settings
    it starts from, and how a result is stored or a refusal classified and logged."""

    async def oauth_settings(self) -> MailSettings: ...

    async def signed_in(self, settings: MailSettings, grant: TokenGrant) -> SignInOutcome: ...

    async def failed(self, error: OAuthError, settings: MailSettings) -> SignInOutcome: ...


SlowDownListener = Callable[[float], None]  # told the new interval after each slow_down


@dataclass
class BackgroundPoll:
    """What this process's poller saw of one sign-in: the interval it started with, and how it
    ended. Only the poller knows the classified failure; the database row holds its sentences."""

    attempt: str
    first_interval: float
    outcome: SignInOutcome | None = None


class DeviceSignInBusyError(AlertmailError):
    """Another device sign-in is in progress: one at a time, across every process."""

    category = "oauth_state"

    def __init__(self, current: DeviceSignIn) -> None:
        self.current = current
        super().__init__(
            f"A sign-in with a code is already in progress (started by {current.administrator} at "
            f"{current.created_at:%H:%M:%S} UTC, its code valid until {current.expires_at:%H:%M:%S} UTC): "
            "finish or cancel it first."
        )


class DeviceSignInService:
    def __init__(
        self,
        sign_ins: DeviceSignInRepository,
        client: DeviceAuthorizationClient,
        browser_flow: SignInSteps,
        *,
        clock: Clock = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sign_ins = sign_ins
        self._client = client
        self._flow = browser_flow
        self._clock = clock
        self._sleep = sleep
        self._polling: dict[asyncio.Task[SignInOutcome], str] = {}  # task -> attempt
        self._last_background: BackgroundPoll | None = None

    async def start(self, administrator: str) -> DeviceSignIn:
        """Ask the provider for a code. Raises `SettingsValidationError` (settings that cannot sign
        in with a code: Google, app-only, no endpoint), `DeviceSignInBusyError`, or
        `SignInFailedError` when the provider refuses (classified and logged)."""
        settings = await self._flow.oauth_settings()
        refusal = device_flow_refusal(settings)
        if refusal is not None:
            raise SettingsValidationError([refusal])
        current = await self._sign_ins.get()
        if current is not None and current.in_progress(self._clock()):
            raise DeviceSignInBusyError(current)  # before asking: a code nobody will use is no use
        try:
            authorization = await self._client.device_authorization(settings)
        except OAuthError as error:
            raise SignInFailedError(await self._flow.failed(error, settings)) from error
        now = self._clock()
        sign_in = DeviceSignIn(
            attempt=secrets.token_hex(16),
            administrator=administrator,
            device_code=authorization.device_code,
            user_code=authorization.user_code,
            verification_uri=authorization.verification_uri,
            verification_uri_complete=authorization.verification_uri_complete,
            interval=authorization.interval,
            created_at=now,
            expires_at=now + _seconds(authorization.expires_in),
            held_until=held_until(now, authorization.interval),
        )
        other = await self._sign_ins.start(sign_in, now)
        if other is not None:
            raise DeviceSignInBusyError(other)
        return sign_in

    async def wait(
        self, sign_in: DeviceSignIn, *, on_slow_down: SlowDownListener | None = None
    ) -> SignInOutcome:
        """Poll until the sign-in ends: approved (tokens stored), refused, expired or cancelled.
        `on_slow_down` hears the new interval each time the provider answers slow_down."""
        settings = await self._flow.oauth_settings()
        current = sign_in
        while True:
            await self._sleep(current.interval)
            if self._clock() >= current.expires_at:
                expired = OAuthError(
                    "expired_token", "the code expired before the sign-in was approved", stage="device"
                )
                return await self._refused(current, settings, expired)
            status = await self._sign_ins.polled(current.attempt, self._clock(), current.interval)
            if status != "pending":
                return _stopped(status)
            try:
                grant = await self._client.poll_device_token(settings, current.device_code.get_secret_value())
            except OAuthError as error:
                answer = poll_answer(error)
                if answer == "give_up":
                    return await self._refused(current, settings, error)
                if answer == "slow_down":  # stored at once: the page shows the interval in force
                    current = current.slowed_down()
                    await self._sign_ins.polled(current.attempt, self._clock(), current.interval)
                    if on_slow_down is not None:
                        on_slow_down(current.interval)
                continue
            return await self._approved(current, settings, grant)

    def wait_in_background(self, sign_in: DeviceSignIn) -> None:
        """Poll from this process while the administrator's page asks how it is going (`current`)."""
        task = asyncio.create_task(self.wait(sign_in), name=f"device-sign-in-{sign_in.attempt[:8]}")
        self._polling[task] = sign_in.attempt
        self._last_background = BackgroundPoll(sign_in.attempt, sign_in.interval)
        task.add_done_callback(self._polled)

    def background_poll(self, attempt: str) -> BackgroundPoll | None:
        """What this process's poller saw of `attempt`, if this process polled it last."""
        last = self._last_background
        return last if last is not None and last.attempt == attempt else None

    async def current(self) -> DeviceSignIn | None:
        """The device sign-in in progress, or the last one finished."""
        return await self._sign_ins.get()

    async def cancel(self, attempt: str | None = None) -> bool:
        """Stop the sign-in in progress (`attempt`: only if it is that one). Its poller, in this
        process or another, stops before its next poll; a code approved meanwhile is not stored."""
        current = await self._sign_ins.get()
        if current is None or (attempt is not None and current.attempt != attempt):
            return False
        return await self._sign_ins.move(current.attempt, "pending", "cancelled", message=CANCELLED)

    async def close(self) -> None:
        """Stop polling from this process (shutdown), and say so on the sign-ins it polled."""
        polling = dict(self._polling)
        for task in polling:
            task.cancel()
        await asyncio.gather(*polling, return_exceptions=True)
        for attempt in polling.values():
            await self._sign_ins.move(attempt, "pending", "cancelled", message=STOPPED)

    # --- endings ------------------------------------------------------------------------------

    async def _approved(
        self, sign_in: DeviceSignIn, settings: MailSettings, grant: TokenGrant
    ) -> SignInOutcome:
        # Claimed first: a cancel that came while the provider answered wins, and nothing is stored.
        if not await self._sign_ins.move(sign_in.attempt, "pending", "claimed"):
            return _stopped((await self._status(sign_in)) or "cancelled")
        outcome = await self._flow.signed_in(settings, grant)
        await self._sign_ins.move(
            sign_in.attempt, "claimed", "succeeded", message=outcome.message, reason=outcome.reason
        )
        return outcome

    async def _refused(
        self, sign_in: DeviceSignIn, settings: MailSettings, error: OAuthError
    ) -> SignInOutcome:
        status = await self._status(sign_in)
        if status != "pending":  # cancelled meanwhile: that is the news, not the refusal
            return _stopped(status)
        outcome = await self._flow.failed(error, settings)
        await self._sign_ins.move(
            sign_in.attempt, "pending", "failed", message=outcome.message, reason=outcome.reason
        )
        return outcome

    async def _status(self, sign_in: DeviceSignIn) -> DeviceStatus | None:
        current = await self._sign_ins.get()
        return current.status if current is not None and current.attempt == sign_in.attempt else None

    def _polled(self, task: asyncio.Task[SignInOutcome]) -> None:
        attempt = self._polling.pop(task, None)
        if task.cancelled():
            return
        if task.exception() is not None:
            logger.error("the device sign-in stopped on an error", exc_info=task.exception())
            return
        last = self._last_background
        if last is not None and last.attempt == attempt:
            last.outcome = task.result()


def _stopped(status: DeviceStatus | None) -> SignInOutcome:
    return SignInOutcome(False, CANCELLED if status == "cancelled" else REPLACED)


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
