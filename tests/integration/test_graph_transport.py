"""E-mail Type `graph` end to end: settings, an app-only token from the Microsoft stand-in, and a
send to the Graph stand-in, a real HTTP server on loopback that decodes and checks the MIME."""

from __future__ import annotations

from email.message import EmailMessage

from alertmail.composition import Container
from tests.support.api_settings import CONTACTS, MAILBOX, graph_app_only, strict_tokens
from tests.support.mail_api_fakes import MailApiFake
from tests.support.provider_fakes import ProviderFake


async def test_an_event_goes_out_through_graph_app_only_with_both_parts_and_its_message_id(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    strict_tokens(provider_fake, mail_api_fake)
    await container.settings.save(graph_app_only(provider_fake, mail_api_fake), actor="test")
    recorded = await container.notifications.raise_event(
        "failover.version_mismatch", {"primary_version": "1.4", "backup_version": "1.3"}
    )
    assert recorded.outbox_id is not None

    assert await container.delivery_worker.run_once() == 1

    (received,) = mail_api_fake.received
    assert (received.api, received.mailbox) == ("graph", MAILBOX)
    stored = await container.outbox.get(recorded.outbox_id)
    assert stored.status == "sent"
    message = received.message
    assert message["Message-ID"] == stored.message_id
    assert message["From"] == MAILBOX and sorted(
        message["To"].addresses[i].addr_spec for i in range(2)
    ) == sorted(CONTACTS)
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part for part in message.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "primary_version: 1.4" in _content(parts["text/plain"])
    assert "1.4" in _content(parts["text/html"])
    (token_request,) = provider_fake.token_requests
    assert token_request.form["grant_type"] == "client_credentials"
    assert token_request.form["scope"] == f"{mail_api_fake.base_url}/.default"


def _content(part: EmailMessage) -> str:
    return str(part.get_content())
