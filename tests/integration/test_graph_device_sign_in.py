"""Delegated Microsoft Graph through a sign-in with a code (#16 item 1: "with the Graph transport,
Mail.Send"): the device sign-in at the Microsoft stand-in asks for the Graph endpoint's Mail.Send,
and the token it brings sends the test e-mail through the Graph stand-in, which accepts only tokens
the provider issued for the Graph endpoint."""

from __future__ import annotations

import asyncio

from tests.support.api_settings import MAILBOX, graph_delegated, strict_tokens
from tests.support.app import Api
from tests.support.mail_api_fakes import MailApiFake
from tests.support.provider_fakes import ProviderFake


async def test_a_device_sign_in_for_delegated_graph_sends_through_graph(
    api: Api, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    provider_fake.device_interval = 1
    provider_fake.expires_in = 1  # the access token is already inside the refresh margin
    strict_tokens(provider_fake, mail_api_fake, audience=mail_api_fake.base_url)
    saved = await api.client.patch(
        "/api/v1/mail-settings", json=graph_delegated(provider_fake, mail_api_fake)
    )
    assert saved.status_code == 200, saved.text
    service = api.container.oauth_device_sign_in

    sign_in = await service.start("admin")
    waiting = asyncio.create_task(service.wait(sign_in))
    provider_fake.approve_device(sign_in.user_code)
    outcome = await asyncio.wait_for(waiting, timeout=10)

    assert outcome.succeeded, outcome.reason
    assert outcome.account == MAILBOX
    [devicecode] = [r for r in provider_fake.requests if r.path.endswith("/devicecode")]
    assert devicecode.form["scope"].split() == [
        f"{mail_api_fake.base_url}/Mail.Send", "offline_access", "openid", "email"
    ]  # fmt: skip
    verified = await api.client.post("/api/v1/oauth/verify")
    assert verified.status_code == 200, verified.text  # delegated: scp holds Mail.Send
    sent = await api.client.post("/api/v1/mail-settings/test-email", json={"to": "ops@example.com"})
    assert sent.json()["sent"] is True, sent.text
    (received,) = mail_api_fake.received
    assert (received.api, received.mailbox) == ("graph", MAILBOX)
    assert [a.addr_spec for a in received.message["To"].addresses] == ["ops@example.com"]
    # The device sign-in's refresh token is the browser sign-in's: refreshed for Graph's Mail.Send.
    refreshed = [r for r in provider_fake.token_requests if r.form.get("grant_type") == "refresh_token"]
    assert refreshed, "the token was never refreshed"
    assert all(f"{mail_api_fake.base_url}/Mail.Send" in r.form["scope"].split() for r in refreshed)
