"""Three `alertmail serve` nodes on one PostgreSQL at `messages_per_minute=30`, `max_connections=3`
(Exchange Online's limits): the relay, a real aiosmtpd server, sees at most 30 messages in any
60 seconds and at most 3 connections at once, whichever nodes send (issue #12, item 6).

The limits are the real ones, over a real minute: 45 messages, 15 claimed by each node at a time,
take one window and a bit (30 at once, the other 15 a minute after those were answered). Per-node
pacing would let each node send 30 a minute and open 3 connections: 45 within half a minute over up
to 9 connections. The bound is checked on the relay's own receipt times, with a sliding window.
The same tokens hold `serve` and `worker` on one SQLite file to one `max_connections` together.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trustme

from alertmail.composition import open_container
from alertmail.config import AppConfig
from tests.integration.test_delivery_postgres import sent_by, wait_until_all_sent
from tests.support.delivery import (
    AlertmailProcess,
    Sinks,
    alertmail_env,
    free_port,
    queue_messages,
    relay_changes,
    wait_until,
)
from tests.support.delivery_checks import most_in_any_window
from tests.support.smtp import HOST, server_context

NODES = ("node-1", "node-2", "node-3")
MESSAGES = 45
PER_MINUTE = 30
CONNECTIONS = 3


@pytest.fixture
async def sinks(tls_server_cert: trustme.LeafCert) -> AsyncIterator[Sinks]:
    async with Sinks(server_context(tls_server_cert)) as started:
        yield started


@pytest.mark.postgres
@pytest.mark.timeout(240)
async def test_three_nodes_hold_30_messages_a_minute_and_3_connections_for_the_whole_cluster(
    tmp_path: Path, postgres_url: str, sinks: Sinks
) -> None:
    sink = await sinks.start(data_delay=0.05)  # a relay taking its time: connections overlap
    key_file = tmp_path / "shared" / "secret.key"
    config = AppConfig(data_dir=tmp_path / "setup", database_url=postgres_url, secret_key_file=key_file)
    async with open_container(config) as container:
        queued = await queue_messages(container, MESSAGES)
    urls = {name: f"http://{HOST}:{free_port()}" for name in NODES}
    nodes = {name: _node(name, urls[name], tmp_path, postgres_url, str(key_file)) for name in NODES}
    try:
        for node in nodes.values():
            await node.start()
        await asyncio.gather(*(node.wait_healthy(urls[name]) for name, node in nodes.items()))
        async with open_container(config) as container:
            # Configured only now: every node is up and all start on the backlog together.
            changes = relay_changes(sink, messages_per_minute=PER_MINUTE, max_connections=CONNECTIONS)
            await container.settings.save(changes, actor="test")
            await wait_until(lambda: len(sink.messages) >= MESSAGES, within=150, interval=0.1)
            await wait_until_all_sent(container, MESSAGES)
        shares = await _shares(urls)
    finally:
        for node in nodes.values():
            await node.stop()

    most = most_in_any_window(sink.arrivals, 60.0)
    span = sink.arrivals[-1] - sink.arrivals[0]
    print(
        f"\ncluster pacing: {len(sink.arrivals)} messages over {span:.1f} s, at most {most} in any 60 s,"
        f" at most {sink.peak_open} connections at once ({sink.connections} opened), shares {shares}"
    )
    assert sink.message_ids == {m.message_id: 1 for m in queued}
    assert most <= PER_MINUTE, sink.arrivals
    assert sink.peak_open <= CONNECTIONS
    assert span >= 60.0  # the limit was reached: the last 15 waited for the window
    assert sum(shares.values()) == MESSAGES, shares


def _node(name: str, url: str, root: Path, database_url: str, key_file: str) -> AlertmailProcess:
    port = url.rsplit(":", 1)[1]
    env = alertmail_env(
        root / name,
        database_url=database_url,
        secret_key_file=key_file,
        node_name=name,
        public_url=url,
        delivery_batch_size="15",
        delivery_poll_seconds="0.2",
    )
    return AlertmailProcess(["serve", "--port", port], env, root / f"{name}.log")


async def _shares(urls: dict[str, str]) -> dict[str, int]:
    shares: dict[str, int] = {}
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        for _ in range(50):
            shares = {name: sent_by(await http.get(url + "/metrics")) for name, url in urls.items()}
            if sum(shares.values()) >= MESSAGES:
                break
            await asyncio.sleep(0.1)
    return shares


@pytest.mark.timeout(90)
async def test_serve_and_worker_on_one_sqlite_file_share_max_connections(
    tmp_path: Path, sinks: Sinks
) -> None:
    """`serve` and `worker` on one SQLite file, two connections between them (not two each)."""
    sink = await sinks.start(data_delay=0.05)
    data_dir = tmp_path / "data"
    async with open_container(AppConfig(data_dir=data_dir, node_name="box")) as container:
        queued = await queue_messages(container, 40)
    env = alertmail_env(data_dir, node_name="box", delivery_batch_size="10", delivery_poll_seconds="0.2")
    url = f"http://{HOST}:{free_port()}"
    serve = AlertmailProcess(["serve", "--port", url.rsplit(":", 1)[1]], env, tmp_path / "serve.log")
    worker = AlertmailProcess(["worker"], env, tmp_path / "worker.log")
    try:
        await serve.start()
        await worker.start()
        await serve.wait_healthy(url)
        async with open_container(AppConfig(data_dir=data_dir, node_name="box")) as container:
            await container.settings.save(relay_changes(sink, max_connections=2), actor="test")
            await wait_until(lambda: len(sink.messages) >= len(queued), within=60, interval=0.05)
        assert worker.process.returncode is None, worker.output()
    finally:
        await worker.stop()
        await serve.stop()
    assert sink.message_ids == {m.message_id: 1 for m in queued}
    assert sink.peak_open <= 2, sink.peak_open
