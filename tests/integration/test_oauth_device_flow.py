"""Sign in with a code (RFC 8628) end to end: the real authorization server (oidc-provider, its
device flow on, announcing a 1 s interval and answering slow_down to polls closer than 1.5 s), its
own device pages driven as the administrator's phone would, then a send over XOAUTH2 to a real
relay that checks the token with the server. Microsoft's Conditional Access refusal and Google's
up-front refusal come from the provider stand-in."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from alertmail.adapters.oauth_client import HttpOAuthClient
from alertmail.adapters.secret_box import FernetSecretBox
from alertmail.adapters.storage.device_sign_in_repository import SqlDeviceSignInRepository
from alertmail.composition import Container
from alertmail.config import AppConfig
from alertmail.domain import messages
from alertmail.domain.device_flow import DeviceAuthorization
from alertmail.domain.oauth import TokenGrant
from alertmail.domain.settings import MailSettings
from alertmail.errors import OAuthError, SettingsValidationError
from alertmail.services.oauth_device_signin import CANCELLED, DeviceSignInBusyError, DeviceSignInService
from tests.support.app import Api
from tests.support.leaks import (
    assert_nothing_leaked,
    assert_search_finds,
    data_dir_haystacks,
    log_haystacks,
    record_responses,
)
from tests.support.oauth_server import LOGIN, DeviceOptions, OAuthServer, relay_for
from tests.support.oauth_settings import (
    REDIRECT_URI,
    device_settings,
    google_settings,
    microsoft_settings,
    token_repository,
)
from tests.support.provider_fakes import ProviderFake
from tests.support.smtp import SmtpServerFactory, SmtpSink

POLLING = DeviceOptions(poll_interval=1, min_poll_gap=1.5)


@dataclass
class RecordingClient:
    """The real OAuth client, noting what each poll was answered and when."""

    client: HttpOAuthClient = field(default_factory=HttpOAuthClient)
    answers: list[tuple[float, str]] = field(default_factory=list)

    async def device_authorization(self, settings: MailSettings) -> DeviceAuthorization:
        return await self.client.device_authorization(settings)

    async def poll_device_token(self, settings: MailSettings, device_code: str) -> TokenGrant:
        try:
            grant = await self.client.poll_device_token(settings, device_code)
        except OAuthError as error:
            self.answers.append((time.monotonic(), error.error))
            raise
        self.answers.append((time.monotonic(), "granted"))
        return grant

    def said(self, answer: str) -> bool:
        return any(said == answer for _, said in self.answers)


def recording_service(container: Container) -> tuple[DeviceSignInService, RecordingClient]:
    box = FernetSecretBox.from_key_file(container.config.resolved_secret_key_file)
    database = container.database
    repository = SqlDeviceSignInRepository(database.sessionmaker, box, dialect=database.dialect)
    client = RecordingClient()
    return DeviceSignInService(repository, client, container.oauth_sign_in), client


async def configured(
    api: Api,
    server: OAuthServer,
    factory: SmtpServerFactory,
    pem: str,
    device: DeviceOptions = POLLING,
) -> SmtpSink:
    client = await server.register_client([REDIRECT_URI], device=device)
    sink, _ = await relay_for(factory, server)
    answer = await api.client.patch("/api/v1/mail-settings", json=device_settings(server, client, sink, pem))
    assert answer.status_code == 200, answer.text
    return sink


async def until(condition: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_pending_slow_down_approval_then_a_send_over_xoauth2(
    api: Api,
    app_config: AppConfig,
    oauth_server: OAuthServer,
    smtp_server_factory: SmtpServerFactory,
    tls_ca_pem: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    responses = record_responses(api.client)
    sink = await configured(api, oauth_server, smtp_server_factory, tls_ca_pem)
    service, client = recording_service(api.container)

    sign_in = await service.start("admin")
    assert sign_in.interval == 1 and sign_in.verification_uri.startswith(oauth_server.issuer)
    assert sign_in.verification_uri_complete.endswith(f"?user_code={sign_in.user_code}")
    waiting = asyncio.create_task(service.wait(sign_in))
    await until(lambda: client.said("slow_down"))  # the second poll came 1 s after the first
    assert [said for _, said in client.answers] == ["authorization_pending", "slow_down"]
    for _ in range(100):  # the answer is seen before the service has stored the new interval
        stored = await service.current()
        if stored is not None and stored.interval == 6:
            break
        await asyncio.sleep(0.05)
    assert (await service.current()).interval == 6  # type: ignore[union-attr]  # 1 + 5, stored
    await oauth_server.approve_device(sign_in.verification_uri_complete, login=LOGIN)
    outcome = await asyncio.wait_for(waiting, timeout=20)

    assert outcome.succeeded, outcome.reason
    assert (outcome.message, outcome.account) == (messages.AUTHORIZATION_COMPLETE, LOGIN)
    (slowed, _), (after, answer) = client.answers[1], client.answers[2]
    assert answer == "granted" and after - slowed >= 6  # slow_down: interval + 5 s
    finished = await service.current()
    assert finished is not None and finished.status == "succeeded"
    status = (await api.client.get("/api/v1/oauth/status")).json()
    assert (status["state"], status["account"], status["grant"]) == ("valid", LOGIN, "authorization_code")

    sent = (await api.client.post("/api/v1/mail-settings/test-email", json={"to": "ops@example.com"})).json()
    assert sent["sent"] is True, sent
    assert [m.authenticated_as for m in sink.messages] == [LOGIN]

    # The device code, the tokens and the client secret are nowhere in clear: database, files, logs.
    tokens = await token_repository(api.container).load()
    assert tokens is not None and tokens.refresh_token is not None
    secrets = {
        "device code": sign_in.device_code.get_secret_value(),
        "access token": tokens.access_token.get_secret_value(),
        "refresh token": tokens.refresh_token.get_secret_value(),
        "client secret": (await api.container.settings.current()).settings.client_secret.get_secret_value(),  # type: ignore[union-attr]
    }
    assert_search_finds(secrets)
    haystacks = {
        **responses,
        **data_dir_haystacks(app_config.data_dir, app_config.resolved_secret_key_file),
        **log_haystacks(caplog),
    }
    assert_nothing_leaked(haystacks, secrets, username=LOGIN)


async def test_a_code_left_unused_expires(
    api: Api, oauth_server: OAuthServer, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    await configured(
        api, oauth_server, smtp_server_factory, tls_ca_pem, DeviceOptions(code_ttl=2, poll_interval=1)
    )
    service = api.container.oauth_device_sign_in

    outcome = await asyncio.wait_for(service.wait(await service.start("admin")), timeout=20)

    assert not outcome.succeeded and outcome.message == messages.AUTHORIZATION_FAILED
    assert outcome.failure is not None and outcome.failure.provider_code == "expired_token"
    assert "not entered and approved in time" in outcome.failure.hint
    logged = (await api.client.get("/api/v1/mail-server-logs", params={"category": "oauth"})).json()
    assert logged["entries"][0]["provider_code"] == "expired_token"
    assert (await api.client.get("/api/v1/oauth/status")).json()["state"] == "not_authorized"


async def test_a_declined_sign_in_ends_the_polling(
    api: Api, oauth_server: OAuthServer, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    await configured(api, oauth_server, smtp_server_factory, tls_ca_pem, DeviceOptions(poll_interval=1))
    service, client = recording_service(api.container)
    sign_in = await service.start("admin")
    waiting = asyncio.create_task(service.wait(sign_in))

    await oauth_server.approve_device(sign_in.verification_uri_complete, approve=False)
    outcome = await asyncio.wait_for(waiting, timeout=20)

    assert not outcome.succeeded and outcome.failure is not None
    assert (outcome.failure.provider_code, outcome.failure.rule) == ("access_denied", "device_access_denied")
    assert client.answers[-1][1] == "access_denied"
    assert (await service.current()).status == "failed"  # type: ignore[union-attr]


async def test_one_device_sign_in_at_a_time_and_cancel_stops_the_polling(
    api: Api, oauth_server: OAuthServer, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    await configured(api, oauth_server, smtp_server_factory, tls_ca_pem, DeviceOptions(poll_interval=1))
    service, client = recording_service(api.container)
    sign_in = await service.start("admin")
    waiting = asyncio.create_task(service.wait(sign_in))
    await until(lambda: len(client.answers) >= 1)

    with pytest.raises(DeviceSignInBusyError, match="started by admin"):
        await api.container.oauth_device_sign_in.start("other-admin")
    assert await api.container.oauth_device_sign_in.cancel()  # another service, one database
    outcome = await asyncio.wait_for(waiting, timeout=10)
    polls = len(client.answers)
    await asyncio.sleep(2.5)  # two intervals: no poll comes after the cancel was seen

    assert (outcome.succeeded, outcome.message) == (False, CANCELLED)
    assert len(client.answers) == polls
    # Approving the cancelled code now stores nothing, and a new sign-in may start.
    await oauth_server.approve_device(sign_in.verification_uri_complete)
    assert (await api.client.get("/api/v1/oauth/status")).json()["state"] == "not_authorized"
    assert (await api.container.oauth_device_sign_in.start("other-admin")).attempt != sign_in.attempt


async def test_conditional_access_blocking_the_device_code_flow_says_use_the_browser(
    api: Api, provider_fake: ProviderFake
) -> None:
    provider_fake.device_interval = 1
    await api.client.patch("/api/v1/mail-settings", json=microsoft_settings(provider_fake))
    settings = (await api.container.settings.current()).settings
    assert settings.device_authorization_endpoint == provider_fake.microsoft_devicecode()
    service = api.container.oauth_device_sign_in
    sign_in = await service.start("admin")
    assert sign_in.verification_uri == "https://microsoft.com/devicelogin"
    assert sign_in.verification_uri_complete == ""  # Microsoft gives none

    provider_fake.token_error("AADSTS53003")  # the user signed in; the policy blocks the flow
    outcome = await asyncio.wait_for(service.wait(sign_in), timeout=20)

    assert not outcome.succeeded and outcome.failure is not None
    assert (outcome.failure.provider_code, outcome.failure.rule) == ("AADSTS53003", "device_aadsts53003")
    assert "device code flow" in outcome.failure.hint and "Use Sign In" in outcome.failure.hint
    assert outcome.failure.support_details["trace_id"]
    [poll] = [r for r in provider_fake.token_requests if r.form.get("grant_type", "").endswith("device_code")]
    assert poll.form["device_code"].startswith("GAQABAAEAAAAm-06blBE1TpVMil8KPQ41")


async def test_microsoft_device_sign_in_through_the_stand_in(api: Api, provider_fake: ProviderFake) -> None:
    provider_fake.device_interval = 1
    await api.client.patch("/api/v1/mail-settings", json=microsoft_settings(provider_fake))
    service = api.container.oauth_device_sign_in
    sign_in = await service.start("admin")
    waiting = asyncio.create_task(service.wait(sign_in))
    await asyncio.sleep(1.5)  # one pending poll (AADSTS70016)
    provider_fake.approve_device(sign_in.user_code)

    outcome = await asyncio.wait_for(waiting, timeout=10)

    assert outcome.succeeded and outcome.account == provider_fake.account
    [devicecode] = [r for r in provider_fake.requests if r.path.endswith("/devicecode")]
    assert devicecode.form["scope"].split() == [
        "https://outlook.office.com/SMTP.Send", "offline_access", "openid", "email"
    ]  # fmt: skip


async def test_google_is_refused_before_anything_is_asked(api: Api, provider_fake: ProviderFake) -> None:
    await api.client.patch("/api/v1/mail-settings", json=google_settings(provider_fake))

    with pytest.raises(SettingsValidationError) as refused:
        await api.container.oauth_device_sign_in.start("admin")

    [problem] = refused.value.errors
    assert problem.field == "oauth_provider" and "Invalid device flow scope" in problem.message
    assert provider_fake.requests == []
