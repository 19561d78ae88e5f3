"""A Graph or Gmail API primary has a probe (issue #16): while mail goes through the fallback, a
probe of the primary brings it back by itself once the API works again, without sending anything.

The probe gets a token from the token service and makes one authenticated GET that reads, and
needs, nothing a send does not have: Graph `GET /v1.0/users/{mailbox}?$select=id` and Gmail
`GET /gmail/v1/users/me/profile`. With only Mail.Send / gmail.send they answer 403 for want of a
read permission, which they do only after accepting the token; a 401, a 5xx, a 429 or a refused
connection fails the probe as it would fail a send.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trustme

from alertmail.adapters.mail_api_transport import MailApiTransport, gmail_request, graph_request
from alertmail.adapters.storage.transport_state_repository import SqlTransportStateRepository
from alertmail.composition import Container
from alertmail.domain.fallback import TransportSwitch
from alertmail.domain.outbox import RetryPolicy
from alertmail.domain.settings import MailSettings
from alertmail.errors import ApiReplyError, TransportError
from tests.support.api_settings import gmail_delegated, graph_app_only, strict_tokens
from tests.support.delivery import FakeClock, Sinks, free_port, queue_messages
from tests.support.delivery_checks import statuses
from tests.support.fallback import PROBE_EVERY, clocked_fallback
from tests.support.mail_api_fakes import GMAIL_PROBE, GRAPH_PROBE, MailApiFake
from tests.support.provider_fakes import ProviderFake
from tests.support.smtp import HOST, server_context

BACKOFF = RetryPolicy(first_delay=timedelta(seconds=20), max_delay=timedelta(seconds=40), jitter=0)
SENDS = ("/v1.0/users/", "/sendMail")


@pytest.fixture
async def sinks(tls_server_cert: trustme.LeafCert) -> AsyncIterator[Sinks]:
    async with Sinks(server_context(tls_server_cert)) as started:
        yield started


async def saved(container: Container, fields: dict[str, Any]) -> MailSettings:
    await container.settings.save(fields, actor="test")
    return (await container.settings.current()).settings


def _sends(api: MailApiFake) -> int:
    return sum(1 for _, path in api.attempts if path.endswith("/sendMail") or path.endswith("/send"))


async def test_a_graph_probe_gets_a_token_and_reads_nothing_a_send_lacks(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    strict_tokens(provider_fake, mail_api_fake)
    settings = await saved(container, graph_app_only(provider_fake, mail_api_fake))
    transport = MailApiTransport("graph", graph_request, tokens=container.oauth_tokens)

    await transport.probe(settings)  # 403 Authorization_RequestDenied: the token was accepted

    assert mail_api_fake.attempts == [("graph", GRAPH_PROBE.format(mailbox=settings.username))]
    assert mail_api_fake.received == [] and _sends(mail_api_fake) == 0
    (token_request,) = provider_fake.token_requests
    assert token_request.form["grant_type"] == "client_credentials"


async def test_a_graph_probe_fails_as_a_send_would(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    settings = await saved(container, graph_app_only(provider_fake, mail_api_fake))
    transport = MailApiTransport("graph", graph_request, tokens=container.oauth_tokens)

    mail_api_fake.fail_next("ServiceUnavailable")
    with pytest.raises(ApiReplyError) as unavailable:
        await transport.probe(settings)
    assert (unavailable.value.http_status, unavailable.value.code) == (503, "ServiceUnavailable")

    strict_tokens(provider_fake, mail_api_fake, audience="outlook.office.com")  # every token refused
    with pytest.raises(ApiReplyError) as refused:
        await transport.probe(settings)
    assert refused.value.http_status == 401
    assert len(provider_fake.token_requests) == 2  # one fresh token after the 401, then it counts

    closed = settings.model_copy(update={"graph_endpoint": f"http://{HOST}:{free_port()}"})
    with pytest.raises(TransportError) as unreachable:
        await transport.probe(closed)
    assert unreachable.value.stage == "api_connect"
    assert mail_api_fake.received == [] and _sends(mail_api_fake) == 0


async def test_a_gmail_probe_passes_on_the_missing_read_scope_and_fails_on_a_disabled_api(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    settings = await saved(container, gmail_delegated(provider_fake, mail_api_fake))
    transport = MailApiTransport("gmail_api", gmail_request, tokens=_FixedToken())

    await transport.probe(settings)  # 403 insufficientPermissions: gmail.send does not read
    assert mail_api_fake.attempts == [("gmail_api", GMAIL_PROBE)]

    mail_api_fake.fail_next("accessNotConfigured")  # a 403 too, but one that stops every send
    with pytest.raises(ApiReplyError) as disabled:
        await transport.probe(settings)
    assert disabled.value.code == "accessNotConfigured"
    assert mail_api_fake.received == [] and _sends(mail_api_fake) == 0


class _FixedToken:
    """A signed-in account's token (the sign-in itself is test_gmail_transport's)."""

    async def access_token(self, settings: object, *, force_refresh: bool = False) -> str:
        return "ya29.a-signed-in-token"

    async def token_accepted(self, settings: object) -> None:
        return None


async def test_a_graph_primary_hands_over_to_the_smtp_fallback_and_comes_back_after_a_probe(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake, sinks: Sinks
) -> None:
    clock = FakeClock(datetime.now(UTC))
    fallback_relay = await sinks.start()
    fallback = {
        "fallback_email_type": "smtp",
        "fallback_hostname": HOST,
        "fallback_port": fallback_relay.port,
        "fallback_encryption": "none",
        "fallback_after_minutes": 2,
    }
    await container.settings.save(graph_app_only(provider_fake, mail_api_fake, **fallback), actor="test")
    mail_api_fake.fail_always("ServiceUnavailable")  # Exchange Online is down
    clocked = clocked_fallback(container, clock, BACKOFF)
    try:
        first = await queue_messages(container, 3, now=clock())
        for _ in range(5):  # two minutes of 503s, without a break
            while await clocked.worker.run_once():
                pass
            clock.advance(timedelta(seconds=30))
        while await clocked.worker.run_once():
            pass
        assert (await clocked.fallback.state()).active == "fallback"
        assert {m.transport for m in await statuses(container, first)} == {"fallback"}
        assert mail_api_fake.received == []

        clock.advance(PROBE_EVERY)
        sends_before = _sends(mail_api_fake)
        assert await clocked.fallback.probe_if_due() is False  # still 503
        assert (await clocked.fallback.state()).active == "fallback"

        mail_api_fake.fail_always(None)  # healed
        clock.advance(PROBE_EVERY)
        assert await clocked.fallback.probe_if_due() is True
        assert (await clocked.fallback.state()).active == "primary"
        assert _sends(mail_api_fake) == sends_before and mail_api_fake.received == []  # probes send nothing

        after = await queue_messages(container, 2, now=clock())
        while await clocked.worker.run_once():
            pass
        assert {m.transport for m in await statuses(container, after)} == {"primary"}
        assert {m.message_id for m in after} <= {str(r.message["Message-ID"]) for r in mail_api_fake.received}
    finally:
        await clocked.close()


async def test_the_application_probes_a_graph_primary_while_on_the_fallback(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake, sinks: Sinks
) -> None:
    fallback_relay = await sinks.start()
    fields = graph_app_only(
        provider_fake,
        mail_api_fake,
        fallback_email_type="smtp",
        fallback_hostname=HOST,
        fallback_port=fallback_relay.port,
        fallback_encryption="none",
    )
    await container.settings.save(fields, actor="test")
    state = SqlTransportStateRepository(container.database.sessionmaker)
    assert await state.switch(TransportSwitch("fallback", datetime.now(UTC), expected_generation=0))

    assert await container.fallback.probe_if_due() is True  # composition registered Graph's probe
    assert (await state.load()).active == "primary"
    assert [path for _, path in mail_api_fake.attempts] == [GRAPH_PROBE.format(mailbox=fields["username"])]
