"""`alertmail outbox cancel ID`: a queued message given up from the shell, and why another cannot be."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from alertmail.adapters.storage.outbox_repository import SqlOutboxRepository
from alertmail.composition import open_container
from alertmail.config import AppConfig
from alertmail.domain.outbox import OutboxMessage, RetryPolicy, new_outbox_message
from tests.support.app import Cli


async def queued_and_sent(cli: Cli) -> tuple[OutboxMessage, OutboxMessage]:
    async with open_container(AppConfig(data_dir=cli.data_dir)) as container:
        outbox = SqlOutboxRepository(container.database.sessionmaker, dialect=container.database.dialect)
        stored = []
        for status in ("queued", "sent"):
            message = new_outbox_message(
                event_type="test", recipients=["ops@example.com"], subject=status, text="t", html="t",
                from_address="a@example.com", now=datetime.now(UTC), policy=RetryPolicy(),
            )  # fmt: skip
            stored.append(await outbox.enqueue(replace(message, status=status)))
        return stored[0], stored[1]


async def test_cancel_gives_up_a_queued_message_and_names_why_a_sent_one_cannot_be(cli: Cli) -> None:
    queued, sent = await queued_and_sent(cli)
    done = await cli.run("outbox", "cancel", queued.id)
    assert done.returncode == 0, done.stderr
    assert f"{queued.id} cancelled: it will not be sent" in done.stdout
    listed = await cli.run("outbox", "--status", "dead", "--json")
    assert queued.id in listed.stdout
    refused = await cli.run("outbox", "cancel", sent.id)
    assert refused.returncode != 0 and "only queued or retrying messages cancel" in refused.stderr
    missing = await cli.run("outbox", "cancel", "nope")
    assert missing.returncode != 0 and "There is no outbox message 'nope'" in missing.stderr
