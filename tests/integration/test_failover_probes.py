"""The failover checks' adapters for real: probes over real sockets to a real HTTP server, this
host's own interfaces, and the check and node rows on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI, Response

from alertmail.adapters.network_interfaces import HostInterfaces
from alertmail.adapters.probes import NetworkProber
from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.node_check_repository import SqlNodeCheckRepository
from alertmail.adapters.storage.node_repository import SqlNodeRepository
from alertmail.config import AppConfig
from alertmail.domain.cluster_checks import CheckResult, NodeCheck, ProbeOutcome
from alertmail.domain.ports import ClusterNode
from alertmail.errors import NotFoundError
from tests.support.browser import serve_app, stop_app
from tests.support.cluster import free_port

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
TEST_IPS = "failover.backup_cannot_reach_test_ips"


@pytest.fixture
async def web() -> AsyncIterator[str]:
    """A node's /healthz (200), a sick one (503) and one that answers too late."""
    app = FastAPI()

    @app.get("/healthz")
    async def healthy() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/sick/healthz")
    async def sick() -> Response:
        return Response(status_code=503)

    @app.get("/slow/healthz")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(3)
        return {"status": "ok"}

    server, task, url = await serve_app(app)
    yield url
    await stop_app(server, task)


async def test_http_probes_pass_on_200_only_and_say_why_they_fail(web: str) -> None:
    prober = NetworkProber(timeout=1)
    assert (await prober.http(web + "/healthz")).ok
    sick = await prober.http(web + "/sick/healthz")
    assert (sick.ok, sick.error) == (False, "HTTP 503")
    slow = await prober.http(web + "/slow/healthz")
    assert (slow.ok, slow.error) == (False, "no answer in time")
    refused = await prober.http(f"http://127.0.0.1:{free_port()}/healthz")
    assert not refused.ok and refused.error
    unresolvable = await prober.http("http://primary.invalid:8025/healthz")
    assert not unresolvable.ok and unresolvable.error


async def test_tcp_probes_pass_when_a_connection_is_accepted() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    prober = NetworkProber(timeout=1)
    try:
        assert await prober.tcp("127.0.0.1", port) == ProbeOutcome(f"127.0.0.1:{port}", True)
    finally:
        server.close()
        await server.wait_closed()
    closed = await prober.tcp("127.0.0.1", port)
    assert (closed.target, closed.ok) == (f"127.0.0.1:{port}", False) and "refused" in closed.error.lower()
    assert (await prober.tcp("::1", port)).target == f"[::1]:{port}"


def test_this_hosts_interfaces_have_loopback_up_and_not_a_documentation_address() -> None:
    interfaces = HostInterfaces()
    assert interfaces.locate("127.0.0.1") == ("up", "lo")
    assert interfaces.locate("192.0.2.10") == ("absent", "")  # TEST-NET-1, on no real host


def test_bad_failover_settings_name_the_setting_and_the_entry() -> None:
    with pytest.raises(ValueError, match="failover_test_addresses") as raised:
        AppConfig(failover_test_addresses="192.0.2.1:443, gateway")
    assert "'gateway' is not host:port" in str(raised.value)
    with pytest.raises(ValueError, match="shared_ip") as raised:
        AppConfig(shared_ip="10.0.0.300")
    assert "is not an IP address" in str(raised.value)
    with pytest.raises(ValueError, match="cluster_ca_file") as raised:
        AppConfig(cluster_ca_file="/nowhere/ca.pem")
    assert "'/nowhere/ca.pem' is not a readable file" in str(raised.value)
    assert AppConfig(failover_test_addresses="192.0.2.1:443").test_addresses[0].port == 443


async def test_check_rows_keep_the_incident_and_mailed_marks_only_that_incident(database: Database) -> None:
    checks = SqlNodeCheckRepository(database.sessionmaker)
    failing = CheckResult(TEST_IPS, True, {"test_addresses": "192.0.2.1:443"})
    await checks.record("b", [failing, CheckResult("failover.backup_self_probe_failed", False)], now=NOW)
    await checks.record("b", [failing], now=NOW + timedelta(seconds=30))
    found = await by_check(checks)
    test_ips, self_probe = found[TEST_IPS], found["failover.backup_self_probe_failed"]
    assert (test_ips.since, test_ips.failures, test_ips.confirmed) == (NOW, 2, True)
    assert test_ips.details == {"test_addresses": "192.0.2.1:443"} and not self_probe.failing

    await checks.mark_mailed("b", TEST_IPS, NOW + timedelta(seconds=1), mailed=True)  # another incident
    assert not (await by_check(checks))[TEST_IPS].mailed
    await checks.mark_mailed("b", TEST_IPS, NOW, mailed=True)
    await checks.record("b", [CheckResult(TEST_IPS, False)], now=NOW + timedelta(seconds=60))
    cleared = (await by_check(checks))[TEST_IPS]
    assert (cleared.failing, cleared.since, cleared.mailed) == (False, NOW, True)  # the note is owed


async def by_check(checks: SqlNodeCheckRepository) -> dict[str, NodeCheck]:
    return {check.check: check for check in await checks.list()}


async def test_backup_operations_survive_the_nodes_restart(database: Database) -> None:
    nodes = SqlNodeRepository(database.sessionmaker)
    node = ClusterNode("b", "b.lan", "http://b.lan:8025", "1.0", "primary-capable", NOW, NOW, False)
    await nodes.register(node, instance_id="b", live_since=None)
    disabled = await nodes.set_backup_operations("b", enabled=False, now=NOW)
    again = await nodes.set_backup_operations("b", enabled=False, now=NOW + timedelta(hours=1))
    assert disabled.backup_disabled_since == again.backup_disabled_since == NOW  # since the first time
    await nodes.register(node, instance_id="b", live_since=None)  # the node restarts
    assert (await nodes.list())[0].backup_disabled_since == NOW
    assert (await nodes.set_backup_operations("b", enabled=True, now=NOW)).backup_disabled_since is None
    with pytest.raises(NotFoundError, match="there is no node 'x'"):
        await nodes.set_backup_operations("x", enabled=False, now=NOW)


async def test_cluster_writes_interleaved_with_heartbeats_never_find_the_database_locked(
    database: Database,
) -> None:
    """SQLite fails a transaction that read and then writes after another one wrote in between
    ("database is locked", at once: the busy timeout does not apply). Each of these writes first."""
    nodes = SqlNodeRepository(database.sessionmaker)
    checks = SqlNodeCheckRepository(database.sessionmaker)
    node = ClusterNode("b", "b.lan", "http://b.lan:8025", "1.0", "primary-capable", NOW, NOW, False)
    await nodes.register(node, instance_id="b", live_since=None)

    async def heartbeats() -> None:
        for n in range(30):
            await nodes.heartbeat("b", now=NOW + timedelta(seconds=n), is_primary=False)

    async def flags() -> None:
        for n in range(30):
            await nodes.set_backup_operations("b", enabled=n % 2 == 0, now=NOW)

    async def rounds() -> None:
        for n in range(30):
            await checks.record("b", [CheckResult(TEST_IPS, n % 3 == 0)], now=NOW + timedelta(seconds=n))

    async def restarts() -> None:
        for _ in range(30):
            await nodes.register(node, instance_id="b", live_since=None)

    await asyncio.gather(heartbeats(), flags(), rounds(), restarts(), heartbeats())
    assert [n.node_id for n in await nodes.list()] == ["b"]
