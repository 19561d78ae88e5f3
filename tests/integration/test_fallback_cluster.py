"""The fallback transport on two `alertmail serve` nodes sharing one PostgreSQL (issue #16).

The primary relay refuses connections and has done so for longer than `fallback_after_minutes`
(written into the shared state, as a node would have recorded it: the threshold is at least one
minute, too long to wait for here). Both nodes then send through the fallback relay, agree on it
in /healthz and /metrics, and exactly one "fallback in use" e-mail goes out; once the primary
listens again, a probe brings both nodes back to it with exactly one "primary restored" e-mail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.models import TransportStateRow
from alertmail.config import to_async_url
from alertmail.domain.fallback import PRIMARY_RESTORED as RESTORED_TYPE
from tests.support.cluster import Cluster, count, sink, start_cluster, wait_for_mail
from tests.support.delivery import DeliverySink
from tests.support.fallback import FALLBACK_STARTED, PRIMARY_RESTORED
from tests.support.smtp import HOST, SmtpSink

__all__ = ["sink", "start_cluster"]  # fixtures, imported to be found

pytestmark = pytest.mark.postgres

NODES = ("node-a", "node-b")


async def primary_failing_since(postgres_url: str, since: datetime) -> None:
    database = Database.from_url(to_async_url(postgres_url))
    try:
        async with database.sessionmaker.begin() as session:
            await session.execute(
                update(TransportStateRow)
                .where(TransportStateRow.id == 1)
                .values(
                    primary_failing_since=since,
                    # ...and went on until now: a run broken by a quiet period would not count.
                    primary_last_failed_at=datetime.now(UTC),
                    failure_category="connect_refused",
                    failure_message="Connection refused by the primary relay",
                    failure_hint="Check that the relay's mail service is running.",
                )
            )
    finally:
        await database.dispose()


async def health(cluster: Cluster, node: str) -> dict[str, Any]:
    reply = await cluster.http.get(cluster.nodes[node].url + "/healthz")
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


async def wait_for_transport(cluster: Cluster, active: str) -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = []
    for _ in range(300):
        answers = [await health(cluster, node) for node in NODES]
        if all(answer["transport"] == active for answer in answers):
            return answers
        await asyncio.sleep(0.1)
    raise AssertionError(f"the nodes never all reported {active}: {answers}")


async def raise_events(cluster: Cluster, how_many: int) -> None:
    for number in range(how_many):
        node = cluster.nodes[NODES[number % 2]]
        reply = await cluster.http.post(
            node.url + "/api/v1/events",
            json={"type": "test", "dedupe_key": f"alert-{number}-{datetime.now(UTC).timestamp()}"},
            headers=cluster.headers,
        )
        assert reply.status_code == 202, reply.text


async def test_two_nodes_agree_on_the_fallback_and_come_back_to_the_primary_once(
    start_cluster: Callable[..., Any], sink: SmtpSink, postgres_url: str, refused_port: int
) -> None:
    cluster: Cluster = await start_cluster(
        port=refused_port,
        fallback_email_type="smtp",
        fallback_hostname=HOST,
        fallback_port=sink.port,
        fallback_encryption="none",
        fallback_after_minutes=1,
    )
    await primary_failing_since(postgres_url, datetime.now(UTC) - timedelta(minutes=5))
    await cluster.start(*NODES, ALERTMAIL_FALLBACK_PROBE_SECONDS="1")

    answers = await wait_for_transport(cluster, "fallback")
    assert {answer["status"] for answer in answers} == {"degraded"}
    assert {answer["fallback"]["primary_category"] for answer in answers} == {"connect_refused"}
    for node in NODES:
        assert 'alertmail_active_transport{transport="fallback"} 1.0' in await cluster.metrics(node)
    await raise_events(cluster, 4)
    await wait_for_mail(sink, "Test e-mail")
    await wait_for_mail(sink, FALLBACK_STARTED)
    code, listing = await cluster.cli("node-b", "outbox")
    assert code == 0 and "warning: mail goes through the fallback transport since" in listing
    assert "via fallback" in listing

    primary = await DeliverySink(port=refused_port).start()  # the primary relay is back
    try:
        await wait_for_transport(cluster, "primary")
        for node in NODES:
            assert 'alertmail_active_transport{transport="primary"} 1.0' in await cluster.metrics(node)
        await wait_for_mail(primary, PRIMARY_RESTORED)
        await raise_events(cluster, 2)
        for _ in range(100):
            if count(primary, "Test e-mail") == 2:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # every node gets more rounds to repeat a notice
        assert count(sink, FALLBACK_STARTED) == 1 and count(primary, FALLBACK_STARTED) == 0
        assert count(primary, PRIMARY_RESTORED) == 1 and count(sink, PRIMARY_RESTORED) == 0
        assert count(sink, "Test e-mail") == 4 and count(primary, "Test e-mail") == 2
        assert len(await cluster.events("node-a", RESTORED_TYPE)) == 1
    finally:
        await primary.stop()
