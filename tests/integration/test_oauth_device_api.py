"""`/api/v1/oauth/device` (sign in with a code, for integrating developers) against the real local
OAuth server (oidc-provider's device flow, a 1 s interval and slow_down to polls closer than
1.5 s), its own device pages driven as the administrator's phone would. The polling runs in the
app's background, as for the web page; the client only asks how it is going."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from alertmail.domain import messages
from tests.integration.test_oauth_device_flow import configured
from tests.support.app import Api
from tests.support.oauth_server import LOGIN, DeviceOptions, OAuthServer
from tests.support.oauth_settings import google_settings, microsoft_settings
from tests.support.provider_fakes import ProviderFake
from tests.support.smtp import SmtpServerFactory

DEVICE = "/api/v1/oauth/device"


async def status_until(api: Api, wanted: Any, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = (await api.client.get(DEVICE)).json()
        if wanted(body):
            return body
        assert time.monotonic() < deadline, f"timed out; last status {body}"
        await asyncio.sleep(0.1)


async def test_start_pending_slow_down_approval_then_a_test_email(
    api: Api, oauth_server: OAuthServer, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    sink = await configured(api, oauth_server, smtp_server_factory, tls_ca_pem)
    assert (await api.client.get(DEVICE)).json()["state"] == "none"

    answer = await api.client.post(DEVICE)

    assert answer.status_code == 201, answer.text
    started = answer.json()
    assert set(started) == {
        "user_code", "verification_uri", "verification_uri_complete", "expires_at", "interval"
    }  # fmt: skip
    assert started["interval"] == 1 and started["verification_uri"].startswith(oauth_server.issuer)
    assert started["verification_uri_complete"].endswith(f"?user_code={started['user_code']}")
    pending = (await api.client.get(DEVICE)).json()
    assert (pending["state"], pending["user_code"]) == ("pending", started["user_code"])
    slowed = await status_until(api, lambda body: body["slowed_down"])
    assert (slowed["state"], slowed["interval"]) == ("pending", 6)  # 1 s + 5 s

    await oauth_server.approve_device(started["verification_uri_complete"], login=LOGIN)
    approved = await status_until(api, lambda body: body["state"] != "pending")

    assert (approved["state"], approved["account"]) == ("approved", LOGIN), approved
    assert approved["message"] == messages.AUTHORIZATION_COMPLETE and approved["failure"] is None
    sent = (await api.client.post("/api/v1/mail-settings/test-email", json={"to": "ops@example.com"})).json()
    assert sent["sent"] is True, sent
    assert [m.authenticated_as for m in sink.messages] == [LOGIN]
    # The device code is in no answer: only its row (encrypted) knows it.
    current = await api.container.oauth_device_sign_in.current()
    assert current is not None
    device_code = current.device_code.get_secret_value()
    for body in (started, pending, slowed, approved):
        assert device_code not in str(body) and "device_code" not in body


async def test_one_at_a_time_then_cancel_stops_it(
    api: Api, oauth_server: OAuthServer, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    await configured(api, oauth_server, smtp_server_factory, tls_ca_pem, DeviceOptions(poll_interval=1))
    first = (await api.client.post(DEVICE)).json()

    busy = await api.client.post(DEVICE)

    assert busy.status_code == 409, busy.text
    assert "already in progress" in busy.json()["message"]
    assert first["user_code"] not in busy.text  # the other's code is not handed out
    cancelled = await api.client.delete(DEVICE)
    assert cancelled.status_code == 204
    after = (await api.client.get(DEVICE)).json()
    assert after["state"] == "cancelled" and "cancelled" in after["message"]
    # A code approved after the cancel stores nothing.
    await oauth_server.approve_device(first["verification_uri_complete"], login=LOGIN)
    await asyncio.sleep(1.5)
    assert (await api.client.get("/api/v1/oauth/status")).json()["state"] == "not_authorized"
    nothing = await api.client.delete(DEVICE)
    assert nothing.status_code == 409 and "nothing to cancel" in nothing.json()["message"]
    assert (await api.client.post(DEVICE)).status_code == 201  # a new one may start


async def test_a_declined_sign_in_is_denied_with_its_category_and_fix(
    api: Api, oauth_server: OAuthServer, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    await configured(api, oauth_server, smtp_server_factory, tls_ca_pem, DeviceOptions(poll_interval=1))
    started = (await api.client.post(DEVICE)).json()

    await oauth_server.approve_device(started["verification_uri_complete"], approve=False)
    denied = await status_until(api, lambda body: body["state"] != "pending")

    assert denied["state"] == "denied", denied
    assert denied["message"] == messages.AUTHORIZATION_FAILED
    failure = denied["failure"]
    assert failure["category"] and failure["fix"] and failure["provider_code"] == "access_denied"
    assert failure["log_entry_id"] is not None


async def test_a_code_left_unused_expires(
    api: Api, oauth_server: OAuthServer, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    await configured(
        api, oauth_server, smtp_server_factory, tls_ca_pem, DeviceOptions(code_ttl=2, poll_interval=1)
    )
    assert (await api.client.post(DEVICE)).status_code == 201

    # "expired" as soon as the code is past its time; the failure once the poller has seen it.
    expired = await status_until(api, lambda body: body["failure"] is not None)

    assert expired["state"] == "expired", expired
    assert "not entered and approved in time" in expired["failure"]["fix"]


async def test_google_and_settings_without_oauth_are_refused_naming_the_field(
    api: Api, provider_fake: ProviderFake
) -> None:
    not_oauth = await api.client.post(DEVICE)
    assert not_oauth.status_code == 422
    assert [error["field"] for error in not_oauth.json()["errors"]] == ["auth_type"]

    await api.client.patch("/api/v1/mail-settings", json=google_settings(provider_fake))
    google = await api.client.post(DEVICE)

    assert google.status_code == 422
    [problem] = google.json()["errors"]
    assert problem["field"] == "oauth_provider" and "Invalid device flow scope" in problem["message"]
    assert provider_fake.requests == []
    assert (await api.client.get(DEVICE)).json()["state"] == "none"


async def test_a_sign_in_polled_by_another_process_is_reported_from_the_database(
    api: Api, provider_fake: ProviderFake
) -> None:
    """A CLI (another process) polled these: the server knows them only from the database row."""
    provider_fake.device_interval = 1
    await api.client.patch("/api/v1/mail-settings", json=microsoft_settings(provider_fake))
    elsewhere = api.container.oauth_device_sign_in  # waited on here, not in the server's background
    approved_here = await elsewhere.start("admin")
    provider_fake.approve_device(approved_here.user_code)
    assert (await elsewhere.wait(approved_here)).succeeded

    approved = (await api.client.get(DEVICE)).json()

    assert (approved["state"], approved["account"]) == ("approved", provider_fake.account)
    provider_fake.token_error("AADSTS53003")  # Conditional Access blocks the device code flow
    refused_here = await elsewhere.start("admin")
    assert not (await elsewhere.wait(refused_here)).succeeded
    failed = (await api.client.get(DEVICE)).json()
    assert failed["state"] == "failed" and failed["message"] == messages.AUTHORIZATION_FAILED
    assert failed["failure"]["category"] == ""  # only the process that polled classified it
    assert failed["failure"]["message"] and "Use Sign In" in failed["failure"]["fix"]
