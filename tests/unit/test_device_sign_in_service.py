"""The device sign-in service over fakes of its ports: a scripted provider, an in-memory row, a
clock that the service's own sleeps move. What the real server cannot be made to do on cue is
here: a cancel landing while the provider answers, a provider briefly unreachable, a code that runs
out on our side, a provider refusing to start."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from alertmail.domain.device_flow import DeviceAuthorization, DeviceSignIn, DeviceStatus
from alertmail.domain.oauth import TokenGrant
from alertmail.domain.settings import MailSettings, apply_update
from alertmail.errors import OAuthError
from alertmail.services.oauth_device_signin import CANCELLED, STOPPED, DeviceSignInService
from alertmail.services.oauth_signin import SignInFailedError, SignInOutcome

SETTINGS = apply_update(
    MailSettings.unconfigured(),
    {
        "from_address": "relay@contoso.com",
        "auth_type": "oauth2",
        "oauth_provider": "microsoft",
        "tenant_id": "contoso.onmicrosoft.com",
        "client_id": "6731de76-14a6-49ae-97bc-6eba6914391e",
        "username": "relay@contoso.com",
    },
)
GRANT = TokenGrant(SecretStr("access"), SecretStr("refresh"), 3600)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)  # a real suspension: a cancel can land here


@dataclass
class Provider:
    """Answers each poll with the next entry: an `OAuthError` code, or the grant."""

    answers: list[str | TokenGrant]
    expires_in: float = 900
    refuse_start: OAuthError | None = None
    polls: int = 0
    on_poll: list[object] = field(default_factory=list)  # callbacks run as the provider answers

    async def device_authorization(self, settings: MailSettings) -> DeviceAuthorization:
        if self.refuse_start is not None:
            raise self.refuse_start
        return DeviceAuthorization(SecretStr("device"), "ABCD-EFGH", "https://example.com/d", self.expires_in)

    async def poll_device_token(self, settings: MailSettings, device_code: str) -> TokenGrant:
        self.polls += 1
        for callback in self.on_poll:
            await callback()  # type: ignore[operator]
        answer = self.answers.pop(0) if self.answers else "authorization_pending"
        if isinstance(answer, TokenGrant):
            return answer
        status = 503 if answer == "temporarily_unavailable" else 400
        raise OAuthError(answer, stage="device", http_status=status)


class Rows:
    """The one row, in memory, with the repository's compare-and-set semantics."""

    def __init__(self) -> None:
        self.row: DeviceSignIn | None = None

    async def start(self, sign_in: DeviceSignIn, now: datetime) -> DeviceSignIn | None:
        if self.row is not None and self.row.in_progress(now):
            return self.row
        self.row = sign_in
        return None

    async def get(self) -> DeviceSignIn | None:
        return self.row

    async def polled(self, attempt: str, now: datetime, interval: float) -> DeviceStatus | None:
        if self.row is None or self.row.attempt != attempt:
            return None
        self.row = replace(self.row, interval=interval)
        return self.row.status

    async def move(
        self, attempt: str, old: DeviceStatus, new: DeviceStatus, *, message: str = "", reason: str = ""
    ) -> bool:
        if self.row is None or (self.row.attempt, self.row.status) != (attempt, old):
            return False
        self.row = replace(self.row, status=new, message=message, reason=reason)
        return True


@dataclass
class Steps:
    """The browser sign-in's shared steps, recorded."""

    stored: list[TokenGrant] = field(default_factory=list)
    failures: list[OAuthError] = field(default_factory=list)

    async def oauth_settings(self) -> MailSettings:
        return SETTINGS

    async def signed_in(self, settings: MailSettings, grant: TokenGrant) -> SignInOutcome:
        self.stored.append(grant)
        return SignInOutcome(True, "signed in")

    async def failed(self, error: OAuthError, settings: MailSettings) -> SignInOutcome:
        self.failures.append(error)
        return SignInOutcome(False, "failed", warning=error.error)


def service(provider: Provider) -> tuple[DeviceSignInService, Rows, Steps, Clock]:
    rows, steps, clock = Rows(), Steps(), Clock()
    return DeviceSignInService(rows, provider, steps, clock=clock, sleep=clock.sleep), rows, steps, clock


async def test_polls_at_the_interval_and_five_seconds_more_after_each_slow_down() -> None:
    provider = Provider(["authorization_pending", "slow_down", "authorization_pending", "slow_down", GRANT])
    devices, rows, steps, clock = service(provider)

    told: list[float] = []

    outcome = await devices.wait(await devices.start("admin"), on_slow_down=told.append)

    assert outcome.succeeded and steps.stored == [GRANT]
    assert clock.slept == [5, 5, 10, 10, 15]
    assert rows.row is not None and rows.row.status == "succeeded" and rows.row.interval == 15
    assert told == [10, 15]  # once per slow_down, never for a pending poll


async def test_a_provider_briefly_unreachable_does_not_end_the_sign_in() -> None:
    provider = Provider(["network_error", "temporarily_unavailable", GRANT])
    devices, _, steps, _ = service(provider)

    assert (await devices.wait(await devices.start("admin"))).succeeded
    assert steps.failures == [] and provider.polls == 3


async def test_a_code_that_ran_out_here_is_not_polled_again() -> None:
    provider = Provider([], expires_in=12)
    devices, rows, steps, _ = service(provider)

    outcome = await devices.wait(await devices.start("admin"))

    assert not outcome.succeeded and [e.error for e in steps.failures] == ["expired_token"]
    assert provider.polls == 2  # at 5 s and 10 s; at 15 s the code had expired
    assert rows.row is not None and rows.row.status == "failed"


async def test_a_cancel_while_the_provider_answers_wins_and_nothing_is_stored() -> None:
    provider = Provider([GRANT])
    devices, rows, steps, _ = service(provider)
    sign_in = await devices.start("admin")
    provider.on_poll.append(lambda: devices.cancel())

    outcome = await devices.wait(sign_in)

    assert (outcome.succeeded, outcome.message) == (False, CANCELLED)
    assert steps.stored == [] and rows.row is not None and rows.row.status == "cancelled"


async def test_a_cancel_before_a_poll_stops_it() -> None:
    provider = Provider([])
    devices, _, _, _ = service(provider)
    sign_in = await devices.start("admin")
    assert await devices.cancel(sign_in.attempt)
    assert not await devices.cancel("another attempt")

    assert (await devices.wait(sign_in)).message == CANCELLED
    assert provider.polls == 0


async def test_a_refusal_ends_it_and_is_logged_once() -> None:
    provider = Provider(["authorization_pending", "authorization_declined"])
    devices, rows, steps, _ = service(provider)

    outcome = await devices.wait(await devices.start("admin"))

    assert (outcome.succeeded, outcome.warning) == (False, "authorization_declined")
    assert len(steps.failures) == 1 and rows.row is not None and rows.row.status == "failed"


async def test_a_provider_refusing_to_start_stores_nothing() -> None:
    provider = Provider([], refuse_start=OAuthError("invalid_client", "AADSTS7000218: x", stage="device"))
    devices, rows, steps, _ = service(provider)

    with pytest.raises(SignInFailedError):
        await devices.start("admin")

    assert rows.row is None and [e.error for e in steps.failures] == ["invalid_client"]


async def test_shutting_down_stops_the_polling_and_says_so() -> None:
    provider = Provider([])
    devices, rows, steps, _ = service(provider)
    devices.wait_in_background(await devices.start("admin"))
    for _ in range(3):
        await asyncio.sleep(0)

    await devices.close()
    polls = provider.polls
    for _ in range(3):
        await asyncio.sleep(0)

    assert provider.polls == polls and steps.failures == []
    assert rows.row is not None and (rows.row.status, rows.row.message) == ("cancelled", STOPPED)
