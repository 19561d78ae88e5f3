"""The failover checks on real node processes, real PostgreSQL and real sockets: each problem of
seed 004 is mailed once per incident, and its clearing once.

Every problem here is made for real: a test address whose listener the test closes, a primary whose
hostname does not resolve, a node that advertises a port nobody answers on, a flag set with the CLI,
an address no interface has, a node whose database connection is cut by a proxy, a primary frozen
with SIGSTOP. Only the interface-down case is not (it would need a network interface to take down
on this machine); tests/unit/test_failover_checks.py covers it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.support.cluster import (
    BECOMING_PRIMARY,
    HEARTBEAT,
    Cluster,
    count,
    free_port,
    sink,
    start_cluster,
    subjects,
    wait_for_mail,
)
from tests.support.smtp import SmtpSink
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres
__all__ = ["sink", "start_cluster"]  # fixtures, imported to be found

CANNOT_REACH_TEST_IPS = "Failover: backup cannot reach any test IP"
NOR_TEST_IPS = "Failover: backup cannot reach the primary or any test IP"
BY_HOSTNAME = "Failover: backup cannot reach the primary by hostname"
SELF_PROBE = "Failover: backup node failed to probe itself"
BACKUP_DISABLED = "Failover: backup operations disabled"
SHARED_IP = "Failover: shared IP not assigned"
DATA_SYNC = "Failover: data sync failed"
PROBE_FAILED = "Failover: primary probe failed (automatic failover enabled)"
CLEARED = "Failover: problem cleared"
SETTLE = 10 * 0.3  # ten check rounds: time for anything to be repeated that would be


class Listener:
    """A test address: a TCP port that accepts, until the test closes it."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server: asyncio.Server | None = None

    async def open(self) -> None:
        self._server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    started = Listener()
    await started.open()
    yield started
    await started.close()


async def primary_and_backup(cluster: Cluster, backup: str = "node-b", **extra: str) -> None:
    await cluster.start("node-a", **extra)
    await cluster.wait_for_states(lambda s: s == {"node-a": "primary"}, via="node-a")
    await cluster.start(backup, **extra)
    await cluster.wait_for_states(lambda s: s.get(backup) == "backup", via="node-a")


def plain_text(sink: SmtpSink, title: str) -> str:
    mail = next(m for m in sink.messages if str(m.message["Subject"]).endswith("] " + title))
    return str(mail.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]


async def test_test_addresses_out_of_reach_are_mailed_once_and_cleared_once(
    start_cluster: Callable[..., Any], sink: SmtpSink, listener: Listener
) -> None:
    cluster: Cluster = await start_cluster()
    await primary_and_backup(cluster, ALERTMAIL_FAILOVER_TEST_ADDRESSES=f"127.0.0.1:{listener.port}")
    await asyncio.sleep(SETTLE)
    assert subjects(sink) == []  # reachable: nothing to say

    await listener.close()
    await wait_for_mail(sink, CANNOT_REACH_TEST_IPS)
    metrics = await cluster.metrics("node-b")
    await asyncio.sleep(SETTLE)
    assert count(sink, CANNOT_REACH_TEST_IPS) == 1, subjects(sink)
    assert 'alertmail_failover_check_failing{check="failover.backup_cannot_reach_test_ips"} 1.0' in metrics
    text = plain_text(sink, CANNOT_REACH_TEST_IPS)
    assert f"127.0.0.1:{listener.port}" in text and "node-b" in text
    assert "could not contact any of the test IP addresses configured for failover" in text
    problems = {n["node_id"]: n["problems"] for n in (await cluster.cluster("node-a"))["nodes"]}
    assert [p["check"] for p in problems["node-b"]] == ["failover.backup_cannot_reach_test_ips"]

    await listener.open()
    await wait_for_mail(sink, CLEARED)
    await asyncio.sleep(SETTLE)
    assert count(sink, CLEARED) == 1 and count(sink, CANNOT_REACH_TEST_IPS) == 1, subjects(sink)
    assert "failover.backup_cannot_reach_test_ips" in plain_text(sink, CLEARED)


async def test_a_primary_unreachable_by_its_hostname_and_a_node_that_cannot_probe_itself(
    start_cluster: Callable[..., Any], sink: SmtpSink
) -> None:
    cluster: Cluster = await start_cluster()
    await cluster.start("node-a", ALERTMAIL_NODE_HOSTNAME="primary.invalid")  # .invalid never resolves
    await cluster.wait_for_states(lambda s: s == {"node-a": "primary"}, via="node-a")
    # node-b tells the others a URL on which nothing answers, its own probe included
    await cluster.start("node-b", ALERTMAIL_ADVERTISED_URL=f"http://127.0.0.1:{free_port()}")
    await wait_for_mail(sink, BY_HOSTNAME)
    await wait_for_mail(sink, SELF_PROBE)
    await asyncio.sleep(SETTLE)

    # The primary mails (its name in the subject); the body names the node with the problem.
    assert sorted(subjects(sink)) == sorted([f"[node-a] {BY_HOSTNAME}", f"[node-a] {SELF_PROBE}"])
    assert "node: node-b" in plain_text(sink, BY_HOSTNAME) and "primary.invalid" in plain_text(
        sink, BY_HOSTNAME
    )
    assert "failed to perform a probe of itself" in plain_text(sink, SELF_PROBE)
    assert "node: node-b" in plain_text(sink, SELF_PROBE)


async def test_backup_operations_disabled_are_mailed_and_that_backup_never_takes_over(
    start_cluster: Callable[..., Any], sink: SmtpSink
) -> None:
    cluster: Cluster = await start_cluster()
    await primary_and_backup(cluster)
    code, said = await cluster.cli("node-b", "cluster", "backup-operations", "disable")
    assert code == 0 and "backup operations disabled on node-b" in said, said
    await cluster.start("node-c")
    await wait_for_mail(sink, BACKUP_DISABLED)

    await cluster.kill("node-a")
    states = await cluster.wait_for_states(
        lambda s: "primary" in s.values() and s["node-a"] == "down", "node-b"
    )
    await wait_for_mail(sink, BECOMING_PRIMARY)
    assert states["node-c"] == "primary" and states["node-b"] == "backup"

    reply = await cluster.http.put(
        cluster.nodes["node-c"].url + "/api/v1/cluster/nodes/node-b/backup-operations",
        json={"enabled": True},
        headers=cluster.headers,
    )
    assert reply.status_code == 200 and reply.json()["backup_operations_enabled"] is True, reply.text
    await wait_for_mail(sink, CLEARED)
    await asyncio.sleep(SETTLE)
    assert count(sink, BACKUP_DISABLED) == 1 and count(sink, CLEARED) == 1, subjects(sink)
    assert f"[node-c] {BECOMING_PRIMARY}" in subjects(sink)


async def test_a_shared_ip_no_interface_has_is_mailed_by_the_primary_once(
    start_cluster: Callable[..., Any], sink: SmtpSink
) -> None:
    cluster: Cluster = await start_cluster()
    await primary_and_backup(cluster, ALERTMAIL_SHARED_IP="192.0.2.10")  # TEST-NET-1: on no interface
    await wait_for_mail(sink, SHARED_IP)
    await asyncio.sleep(SETTLE)
    assert subjects(sink) == [f"[node-a] {SHARED_IP}"]  # the primary's problem only, once
    assert "192.0.2.10" in plain_text(sink, SHARED_IP)


async def test_a_shared_ip_on_an_interface_that_is_up_is_no_problem(
    start_cluster: Callable[..., Any], sink: SmtpSink
) -> None:
    cluster: Cluster = await start_cluster()
    await primary_and_backup(cluster, ALERTMAIL_SHARED_IP="127.0.0.1")  # on lo, which is up
    await asyncio.sleep(SETTLE)
    assert subjects(sink) == []
    metrics = await cluster.metrics("node-a")
    assert 'alertmail_failover_check_failing{check="failover.shared_ip_not_assigned"} 0.0' in metrics


async def test_a_primary_that_cannot_write_to_its_database_for_too_long_is_mailed_once(
    start_cluster: Callable[..., Any], sink: SmtpSink, postgres_url: str
) -> None:
    cluster: Cluster = await start_cluster()
    proxy = TcpProxy("127.0.0.1", make_url(postgres_url).port or 5432)
    await proxy.start()
    try:
        via_proxy = make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
        await cluster.start(
            "node-a",
            ALERTMAIL_DATABASE_URL=via_proxy.render_as_string(hide_password=False),
            ALERTMAIL_DATA_SYNC_THRESHOLD_SECONDS="1",
        )
        await cluster.wait_for_states(lambda s: s == {"node-a": "primary"}, via="node-a")
        await proxy.cut()
        await asyncio.sleep(3)  # three times the threshold without a database
        await proxy.restore()
        await wait_for_mail(sink, DATA_SYNC, timeout=30)
        await asyncio.sleep(SETTLE)
    finally:
        await proxy.close()

    assert count(sink, DATA_SYNC) == 1, subjects(sink)
    text = plain_text(sink, DATA_SYNC)
    assert "failed to perform a data sync" in text and "longest_outage:" in text


async def test_a_hung_primary_is_fenced_a_backup_takes_over_once_and_the_old_one_steps_down(
    start_cluster: Callable[..., Any], sink: SmtpSink
) -> None:
    cluster: Cluster = await start_cluster()
    await cluster.start("node-a")
    await cluster.wait_for_states(lambda s: s == {"node-a": "primary"}, via="node-a")
    await cluster.start("node-b", "node-c")
    await cluster.wait_for_states(
        lambda s: sorted(s.values()) == ["backup", "backup", "primary"], via="node-b"
    )

    cluster.pause("node-a")  # its sockets stay open, so its session keeps the advisory lock
    states = await cluster.wait_for_states(
        lambda s: s["node-b"] == "primary" or s["node-c"] == "primary", "node-b"
    )
    await wait_for_mail(sink, BECOMING_PRIMARY)
    cluster.resume("node-a")
    states = await cluster.wait_for_states(
        lambda s: s["node-a"] == "backup" and list(s.values()).count("primary") == 1, "node-b"
    )
    await asyncio.sleep(10 * HEARTBEAT)

    assert list((await cluster.states("node-a")).values()).count("primary") == 1
    assert count(sink, BECOMING_PRIMARY) == 1 and count(sink, PROBE_FAILED) == 1, subjects(sink)
    assert states["node-a"] == "backup"
