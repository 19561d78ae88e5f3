"""What a mail API's refusal does to the outbox: a refusal about the message itself (a bad recipient,
a message too large) dead-letters that message at once and leaves the transport free for the
others; a refusal about the configuration (a permission, a mailbox Graph cannot send from) holds
every message until the configuration changes, as SMTP's per-message 5xx and its login refusals do.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from tests.support.api_settings import gmail_delegated, graph_app_only
from tests.support.delivery import queue_messages
from tests.support.mail_api_fakes import MailApiFake
from tests.support.oauth_settings import signed_in
from tests.support.provider_fakes import ProviderFake

ABOUT_THE_MESSAGE = ["ErrorInvalidRecipients", "ErrorMessageSizeExceeded", "RequestEntityTooLarge"]
ABOUT_THE_CONFIGURATION = [
    "ErrorAccessDenied",
    "NoPermissionsInAccessToken",
    "MailboxNotEnabledForRESTAPI",
    "ErrorSendAsDenied",
]


async def _settings(container: Container, provider: ProviderFake, api: MailApiFake, key: str) -> None:
    if key[0].islower():  # Gmail's reasons are camelCase, Graph's codes PascalCase
        await signed_in(container, gmail_delegated(provider, api, max_connections=1))
    else:
        await container.settings.save(graph_app_only(provider, api, max_connections=1), actor="test")


@pytest.mark.parametrize("key", [*ABOUT_THE_MESSAGE, "invalidArgument"])
async def test_a_refusal_of_the_message_itself_dead_letters_it_and_the_next_one_goes_out(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake, key: str
) -> None:
    await _settings(container, provider_fake, mail_api_fake, key)
    refused, other = await queue_messages(container, 2)
    mail_api_fake.fail_next(key)

    assert await container.delivery_worker.run_once() == 2

    dead = await container.outbox.get(refused.id)
    assert dead.status == "dead" and dead.dead_at is not None and dead.next_attempt_at is None
    assert (await container.outbox.get(other.id)).status == "sent"  # the transport was not held
    entries = [e for e in await container.mail_logs.list(limit=10) if e.status == "error"]
    (entry,) = entries
    assert entry.provider_code == key or key == "RequestEntityTooLarge"
    assert refused.id in entry.context


@pytest.mark.parametrize("key", [*ABOUT_THE_CONFIGURATION, "insufficientPermissions", "failedPrecondition"])
async def test_a_refusal_of_the_configuration_holds_every_message_until_it_changes(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake, key: str
) -> None:
    await _settings(container, provider_fake, mail_api_fake, key)
    queued = await queue_messages(container, 2)
    mail_api_fake.fail_always(key)

    await container.delivery_worker.run_once()

    assert [(await container.outbox.get(m.id)).status for m in queued] == ["waiting_config"] * 2
    # One message tried (twice for a 401: once more with a fresh token), the other held untried.
    assert len(mail_api_fake.attempts) <= 2 and mail_api_fake.received == []


# --- at most 4 requests per mailbox, for every node together ------------------------------------


async def test_two_workers_on_one_database_keep_four_requests_in_flight_per_mailbox(
    tmp_path: Path, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    """Two nodes' workers, each with a batch of its own: Graph's 4 per mailbox, not 4 per node. The
    settings allow 8 connections; the mail API types' lanes take at most 4 of the cluster's."""
    configs = [
        AppConfig(data_dir=tmp_path / "data", node_name=name, delivery_batch_size=6) for name in ("a", "b")
    ]
    async with open_container(configs[0]) as first, open_container(configs[1]) as second:
        settings = graph_app_only(provider_fake, mail_api_fake, max_connections=8)
        await first.settings.save(settings, actor="test")
        await queue_messages(first, 12)
        mail_api_fake.hold = asyncio.Event()

        sending = [asyncio.create_task(c.delivery_worker.run_once()) for c in (first, second)]
        try:
            async with asyncio.timeout(15):
                while len(mail_api_fake.attempts) < 4:
                    await asyncio.sleep(0.01)
            await asyncio.sleep(0.5)  # room for a fifth request from either node, if one could start
            held = len(mail_api_fake.attempts)
        finally:
            mail_api_fake.hold.set()
        async with asyncio.timeout(30):
            sent = await asyncio.gather(*sending)

    assert held == 4, held

    assert sorted(sent) == [6, 6], sent  # each node sent its own batch
    assert mail_api_fake.max_in_flight == 4 and len(mail_api_fake.received) == 12
