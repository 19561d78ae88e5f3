"""Three `alertmail serve` nodes on one PostgreSQL deliver 1,000 messages: none is sent twice.

Each node is a separate process with its own data directory, sharing the database and the secret
key file, as docs/cluster.md deploys them. The claims are `SELECT ... FOR UPDATE SKIP LOCKED`
(adapters/storage/outbox_repository.py); the receiving server counts every Message-ID, and each
node's own count of the messages it had accepted (its /metrics) shows that all three delivered.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from tests.support.delivery import (
    AlertmailProcess,
    Sinks,
    alertmail_env,
    free_port,
    queue_messages,
    relay_changes,
    wait_until,
)
from tests.support.smtp import HOST

pytestmark = pytest.mark.postgres

MESSAGES = 1000
NODES = ("node-1", "node-2", "node-3")
CONNECTIONS = 2  # for the whole cluster (domain/pacing.py)


@pytest.mark.timeout(180)  # three serve processes start; a loaded CI machine is slow at that
async def test_three_nodes_on_postgresql_deliver_every_message_once_and_each_delivers_a_share(
    tmp_path: Path, postgres_url: str, sinks: Sinks
) -> None:
    """Nothing in the database says which node sent a message (`mark_sent_many` clears
    `lease_owner`, and Mail Server Logs record failures only), so each node's share is its
    `alertmail_messages_sent_total` on /metrics: the messages the relay accepted from that process.
    The shares must add up to exactly 1,000, and every node's must be above zero.

    The messages are queued before the nodes start, but the relay is configured only once all three
    answer /healthz: until then they wait, queued, so no node gets a head start on the backlog.
    """
    sink = await sinks.start(data_delay=0.005)  # seconds per message: no node can drain them alone
    key_file = tmp_path / "shared" / "secret.key"  # the nodes share the database and the key
    config = AppConfig(data_dir=tmp_path / "setup", database_url=postgres_url, secret_key_file=key_file)
    async with open_container(config) as container:  # also migrates, before the nodes start
        queued = await queue_messages(container, MESSAGES)

    ports = {name: free_port() for name in NODES}
    urls = {name: f"http://{HOST}:{port}" for name, port in ports.items()}
    nodes = {
        name: AlertmailProcess(
            ["serve", "--port", str(ports[name])],
            alertmail_env(
                tmp_path / name,
                database_url=postgres_url,
                secret_key_file=str(key_file),
                node_name=name,
                public_url=urls[name],
                delivery_batch_size="50",
                delivery_poll_seconds="0.2",
            ),
            tmp_path / f"{name}.log",
        )
        for name in NODES
    }
    try:
        for node in nodes.values():
            await node.start()
        await asyncio.gather(*(node.wait_healthy(urls[name]) for name, node in nodes.items()))
        async with open_container(config) as container:
            await container.settings.save(relay_changes(sink, max_connections=CONNECTIONS), actor="test")
            await wait_until(lambda: len(sink.messages) >= MESSAGES, within=40, interval=0.05)
            await wait_until_all_sent(container, MESSAGES)
        shares = await wait_for_shares(urls)
        for name, node in nodes.items():
            assert node.process.returncode is None, (name, node.output())
    finally:
        for node in nodes.values():
            await node.stop()

    assert sink.duplicates == 0
    assert sink.message_ids == {m.message_id: 1 for m in queued}
    assert sum(shares.values()) == MESSAGES, shares
    assert all(share > 0 for share in shares.values()), shares
    # `max_connections` holds for the cluster: never more open at once, whichever nodes send.
    assert sink.peak_open <= CONNECTIONS, sink.peak_open


async def wait_until_all_sent(container: Container, messages: int) -> None:
    """The sink has every message; wait for the nodes to record the last batch as sent."""
    for _ in range(100):
        counts = await container.outbox.counts()
        if counts["sent"] == messages:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not all recorded as sent: {await container.outbox.counts()}")


async def wait_for_shares(urls: dict[str, str]) -> dict[str, int]:
    """Each node's count of messages sent, once they add up to all of them.

    A node counts a batch just after recording it as sent, so the last count may lag a moment.
    """
    shares: dict[str, int] = {}
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        for _ in range(50):
            shares = {name: sent_by(await http.get(url + "/metrics")) for name, url in urls.items()}
            if sum(shares.values()) >= MESSAGES:
                break
            await asyncio.sleep(0.1)
    return shares


def sent_by(reply: httpx.Response) -> int:
    """`alertmail_messages_sent_total` in a node's /metrics."""
    assert reply.status_code == 200, reply.text
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            if sample.name == "alertmail_messages_sent_total":
                return int(sample.value)
    raise AssertionError(f"no alertmail_messages_sent_total in {reply.text[:2000]}")
