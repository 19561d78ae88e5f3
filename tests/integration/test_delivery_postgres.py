"""Two `alertmail worker` processes on one PostgreSQL drain 1,000 messages: none is sent twice.

The claims are `SELECT ... FOR UPDATE SKIP LOCKED` (adapters/storage/outbox_repository.py); the
receiving server counts every Message-ID, and the connections open at once show that both workers
were sending at the same time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from tests.support.delivery import (
    AlertmailProcess,
    Sinks,
    alertmail_env,
    queue_messages,
    relay_changes,
    wait_until,
)
from tests.support.smtp import server_context

pytestmark = pytest.mark.postgres

MESSAGES = 1000
CONNECTIONS = 2  # per worker


@pytest.fixture
async def sinks(tls_server_cert: trustme.LeafCert) -> AsyncIterator[Sinks]:
    async with Sinks(server_context(tls_server_cert)) as started:
        yield started


@pytest.mark.timeout(90)
async def test_two_worker_processes_on_postgresql_never_send_a_message_twice(
    tmp_path: Path, postgres_url: str, sinks: Sinks
) -> None:
    sink = await sinks.start(data_delay=0.005)  # seconds of work for one worker: both get a share
    key_file = tmp_path / "shared" / "secret.key"  # the nodes share the database and the key
    config = AppConfig(data_dir=tmp_path / "setup", database_url=postgres_url, secret_key_file=key_file)
    async with open_container(config) as container:  # also migrates, before the workers start
        await container.settings.save(relay_changes(sink, max_connections=CONNECTIONS), actor="test")
        queued = await queue_messages(container, MESSAGES)

    workers = [
        AlertmailProcess(
            ["worker"],
            alertmail_env(
                tmp_path / f"node-{n}",
                database_url=postgres_url,
                secret_key_file=str(key_file),
                node_name=f"node-{n}",
                delivery_batch_size="50",
                delivery_poll_seconds="0.2",
            ),
            tmp_path / f"worker-{n}.log",
        )
        for n in (1, 2)
    ]
    try:
        for worker in workers:
            await worker.start()
        await wait_until(lambda: len(sink.messages) >= MESSAGES, within=60, interval=0.05)
        async with open_container(config) as container:
            await wait_until_all_sent(container)
        for worker in workers:
            assert worker.process.returncode is None, worker.output()
    finally:
        for worker in workers:
            await worker.stop()

    assert sink.duplicates == 0
    assert sink.message_ids == {m.message_id: 1 for m in queued}
    # More connections at once than one worker opens: both workers were sending together.
    assert sink.peak_open > CONNECTIONS, sink.peak_open


async def wait_until_all_sent(container: Container) -> None:
    """The sink has every message; wait for the workers to record the last batch as sent."""
    for _ in range(100):
        counts = await container.outbox.counts()
        if counts["sent"] == MESSAGES:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not all recorded as sent: {await container.outbox.counts()}")
