"""Several `alertmail serve` processes on one real PostgreSQL, mailing a real aiosmtpd sink.

Each node is a separate process with its own data directory, sharing the database and the secret
key file, as docs/cluster.md deploys them. Heartbeats and the grace period are shortened so the
whole file runs in well under a minute and a half.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

import alertmail
from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.primary_lock import PRIMARY_LOCK_KEY, PostgresPrimaryLock
from alertmail.composition import open_container
from alertmail.config import AppConfig
from tests.support.app import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD
from tests.support.delivery import relay_changes
from tests.support.smtp import SmtpServerFactory, SmtpSink

pytestmark = pytest.mark.postgres

HEARTBEAT = 0.3
GRACE = 2.0
BECOMING_PRIMARY = "Failover: backup becoming primary"
PROBE_FAILED = "Failover: primary probe failed (automatic failover enabled)"
PROBE_FAILED_NO_FAILOVER = "Failover: primary probe failed (automatic failover disabled)"
VERSION_MISMATCH = "Failover: product version mismatch"


@dataclass
class Node:
    name: str
    url: str
    process: asyncio.subprocess.Process


class Cluster:
    """Starts `alertmail serve` nodes on one database, and talks to them as an administrator."""

    def __init__(self, root: Path, database_url: str, token: str) -> None:
        self.root = root
        self.database_url = database_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.nodes: dict[str, Node] = {}
        self.http = httpx.AsyncClient(trust_env=False, timeout=10)

    def env(self, name: str, port: int, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("ALERTMAIL_")}
        return env | {
            "ALERTMAIL_DATA_DIR": str(self.root / name),
            "ALERTMAIL_DATABASE_URL": self.database_url,
            "ALERTMAIL_SECRET_KEY_FILE": str(self.root / "secret.key"),  # one key for every node
            "ALERTMAIL_NODE_NAME": name,
            "ALERTMAIL_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "ALERTMAIL_HEARTBEAT_SECONDS": str(HEARTBEAT),
            "ALERTMAIL_FAILOVER_GRACE_SECONDS": str(GRACE),
            "ALERTMAIL_DELIVERY_POLL_SECONDS": "0.2",
            "ALERTMAIL_TIMEZONE": "UTC",
            **extra,
        }

    async def start(self, *names: str, **extra: str) -> None:
        """Start the nodes together and wait until each answers /healthz."""
        for name in names:
            port = free_port()
            log = (self.root / f"{name}.log").open("ab")
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "alertmail", "serve", "--port", str(port),
                stdout=log, stderr=log, env=self.env(name, port, **extra),
            )  # fmt: skip
            log.close()
            self.nodes[name] = Node(name, f"http://127.0.0.1:{port}", process)
        await asyncio.gather(*(self._wait_until_up(self.nodes[name]) for name in names))

    async def _wait_until_up(self, node: Node) -> None:
        for _ in range(300):
            if node.process.returncode is not None:
                raise AssertionError(f"{node.name} exited: {self.log(node.name)}")
            try:
                if (await self.http.get(node.url + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"{node.name} did not answer /healthz: {self.log(node.name)}")

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")[-3000:]

    async def cli(self, name: str, *args: str) -> tuple[int, str]:
        """`alertmail ARGS` on node `name`'s host: with its environment, as its administrator would."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "alertmail", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=self.env(name, 0),
        )  # fmt: skip
        out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode is not None
        return process.returncode, out.decode()

    async def kill(self, name: str) -> None:
        process = self.nodes.pop(name).process
        process.send_signal(signal.SIGKILL)
        await process.wait()

    async def cluster(self, via: str) -> dict[str, Any]:
        reply = await self.http.get(self.nodes[via].url + "/api/v1/cluster", headers=self.headers)
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        return body

    async def events(self, via: str, event_type: str) -> list[dict[str, Any]]:
        reply = await self.http.get(
            self.nodes[via].url + "/api/v1/events", params={"type": event_type}, headers=self.headers
        )
        assert reply.status_code == 200, reply.text
        found: list[dict[str, Any]] = reply.json()
        return found

    async def states(self, via: str) -> dict[str, str]:
        return {node["node_id"]: node["state"] for node in (await self.cluster(via))["nodes"]}

    async def wait_for_states(self, expected: Callable[[dict[str, str]], bool], via: str) -> dict[str, str]:
        states: dict[str, str] = {}
        for _ in range(150):
            states = await self.states(via)
            if expected(states):
                return states
            await asyncio.sleep(0.1)
        raise AssertionError(f"the cluster never got there: {states}")

    async def close(self) -> None:
        for node in self.nodes.values():
            node.process.terminate()
        for node in self.nodes.values():
            try:
                await asyncio.wait_for(node.process.wait(), timeout=20)
            except TimeoutError:
                node.process.kill()
                await node.process.wait()
        await self.http.aclose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def subjects(sink: SmtpSink) -> list[str]:
    return [str(m.message["Subject"]) for m in sink.messages]


def count(sink: SmtpSink, title: str) -> int:
    return sum(1 for subject in subjects(sink) if subject.endswith("] " + title))


async def wait_for_mail(sink: SmtpSink, title: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while count(sink, title) == 0:
        assert time.monotonic() < deadline, f"no {title!r} e-mail; the sink got {subjects(sink)}"
        await asyncio.sleep(0.1)


async def configure(postgres_url: str, root: Path, sink: SmtpSink, **changes: Any) -> str:
    """Migrate the database, save the mail settings, create an administrator; return an API token."""
    config = AppConfig(
        data_dir=root / "setup",
        database_url=postgres_url,
        secret_key_file=root / "secret.key",
        node_name="setup",
    )
    async with open_container(config) as container:
        settings = relay_changes(sink, admin_contacts=["ops@example.com"], **changes)
        await container.settings.save(settings, actor="test")
        await container.administrators.create(ADMIN, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        _, token = await container.administrators.create_token("cluster-tests", administrator=ADMIN)
    return token


@pytest.fixture
async def sink(smtp_server_factory: SmtpServerFactory) -> SmtpSink:
    return await smtp_server_factory()


@pytest.fixture
async def start_cluster(
    postgres_url: str, tmp_path: Path, sink: SmtpSink
) -> AsyncIterator[Callable[..., Any]]:
    started: list[Cluster] = []

    async def start(**settings: Any) -> Cluster:
        token = await configure(postgres_url, tmp_path, sink, **settings)
        cluster = Cluster(tmp_path, postgres_url, token)
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        await cluster.close()


async def test_killing_the_primary_makes_a_backup_primary_once_and_the_daily_notice_stays_once(
    start_cluster: Callable[..., Any], sink: SmtpSink
) -> None:
    now = datetime.now(UTC)
    cluster: Cluster = await start_cluster(daily_notice=True, daily_notice_time=f"{now:%H:%M}")
    await cluster.start("node-a")
    await cluster.wait_for_states(lambda s: s == {"node-a": "primary"}, via="node-a")
    await cluster.start("node-b", "node-c")
    await cluster.wait_for_states(
        lambda s: s == {"node-a": "primary", "node-b": "backup", "node-c": "backup"}, via="node-b"
    )
    await wait_for_mail(sink, "Daily communication notice")

    await cluster.kill("node-a")
    killed = time.monotonic()
    states = await cluster.wait_for_states(
        lambda s: "primary" in s.values() and s["node-a"] != "primary", "node-b"
    )
    took = time.monotonic() - killed
    await wait_for_mail(sink, BECOMING_PRIMARY)
    await asyncio.sleep(10 * HEARTBEAT)  # every node gets several more ticks to repeat anything

    new_primary = next(name for name, state in states.items() if state == "primary")
    assert GRACE <= took <= GRACE + 5, f"took {took:.1f} s for a grace period of {GRACE} s"
    assert list(states.values()).count("primary") == 1 and states["node-a"] == "down"
    assert count(sink, BECOMING_PRIMARY) == 1 and count(sink, PROBE_FAILED) == 1, subjects(sink)
    assert f"[{new_primary}] {BECOMING_PRIMARY}" in subjects(sink)
    assert count(sink, "Daily communication notice") == 1, subjects(sink)  # the new primary ran it too
    # Both backups saw the outage; the claim in the database let one of them raise each event.
    for event_type in ("failover.primary_probe_failed_failover_enabled", "failover.backup_becoming_primary"):
        assert len(await cluster.events(new_primary, event_type)) == 1, event_type
    assert await cluster.events(new_primary, "failover.check_cleared") == []
    became = next(m for m in sink.messages if str(m.message["Subject"]).endswith(BECOMING_PRIMARY))
    assert "node-a" in became.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert (await cluster.cluster(new_primary))["is_primary"] is True


async def test_a_node_with_another_version_raises_the_mismatch_e_mail_once_even_across_a_failover(
    start_cluster: Callable[..., Any], sink: SmtpSink
) -> None:
    cluster: Cluster = await start_cluster()
    await cluster.start("node-a")
    await cluster.wait_for_states(lambda s: s == {"node-a": "primary"}, via="node-a")
    # node-b runs an older version, as a traffic node: it never becomes primary itself
    await cluster.start("node-b", ALERTMAIL_VERSION_OVERRIDE="0.0.1-old", ALERTMAIL_NODE_ROLE="traffic")
    await cluster.start("node-c")
    await wait_for_mail(sink, VERSION_MISMATCH)
    await cluster.kill("node-a")  # node-c becomes primary and finds the same mismatch
    states = await cluster.wait_for_states(lambda s: s["node-c"] == "primary", via="node-c")
    await asyncio.sleep(10 * HEARTBEAT)

    assert states == {"node-a": "down", "node-b": "traffic", "node-c": "primary"}
    assert count(sink, VERSION_MISMATCH) == 1, subjects(sink)
    assert len(await cluster.events("node-c", "failover.version_mismatch")) == 1
    mail = next(m for m in sink.messages if str(m.message["Subject"]).endswith(VERSION_MISMATCH))
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "0.0.1-old" in text and alertmail.__version__ in text and "node-b" in text
    versions = {n["node_id"]: n["version"] for n in (await cluster.cluster("node-b"))["nodes"]}
    assert versions == {
        "node-a": alertmail.__version__,
        "node-b": "0.0.1-old",
        "node-c": alertmail.__version__,
    }


async def test_a_settings_change_on_one_node_is_used_by_a_send_on_another_at_once(
    start_cluster: Callable[..., Any], sink: SmtpSink, smtp_server_factory: SmtpServerFactory
) -> None:
    other = await smtp_server_factory()
    cluster: Cluster = await start_cluster()
    await cluster.start("node-a", "node-b")
    a, b = cluster.nodes["node-a"].url, cluster.nodes["node-b"].url
    test_email = {"to": "ops@example.com"}
    before = await cluster.http.post(
        b + "/api/v1/mail-settings/test-email", json=test_email, headers=cluster.headers
    )
    assert before.status_code == 200, before.text

    saved = await cluster.http.patch(
        a + "/api/v1/mail-settings", json={"port": other.port}, headers=cluster.headers
    )
    sent = await cluster.http.post(
        b + "/api/v1/mail-settings/test-email", json=test_email, headers=cluster.headers
    )

    assert saved.status_code == 200, saved.text
    assert sent.status_code == 200, sent.text
    assert [m.rcpt_tos for m in sink.messages] == [("ops@example.com",)]  # the send before the change
    assert [m.rcpt_tos for m in other.messages] == [("ops@example.com",)]


async def test_without_automatic_failover_the_backups_mail_once_and_wait_for_cluster_promote(
    start_cluster: Callable[..., Any], sink: SmtpSink
) -> None:
    cluster: Cluster = await start_cluster()
    await cluster.start("node-a", ALERTMAIL_AUTOMATIC_FAILOVER="false")
    await cluster.wait_for_states(lambda s: s == {"node-a": "primary"}, via="node-a")
    await cluster.start("node-b", "node-c", ALERTMAIL_AUTOMATIC_FAILOVER="false")
    refused, said = await cluster.cli("node-b", "cluster", "promote", "--wait", "1")
    assert refused == 1 and "the primary still holds the lock" in said

    await cluster.kill("node-a")
    await wait_for_mail(sink, PROBE_FAILED_NO_FAILOVER)
    await asyncio.sleep(GRACE + 5 * HEARTBEAT)
    assert "primary" not in (await cluster.states("node-b")).values()  # nobody took over alone

    code, said = await cluster.cli("node-b", "cluster", "promote")
    assert code == 0 and "node-b is the primary" in said, said
    status_code, status = await cluster.cli("node-c", "cluster", "status")
    assert status_code == 0, status
    assert {line.split()[0]: line.split()[1] for line in status.splitlines()} == {
        "node-a": "down",
        "node-b": "primary",
        "node-c": "backup",
    }
    assert count(sink, PROBE_FAILED_NO_FAILOVER) == 1 and count(sink, BECOMING_PRIMARY) == 0, subjects(sink)


async def test_the_primary_lock_belongs_to_one_connection_and_is_free_once_that_connection_ends(
    postgres_url: str,
) -> None:
    async with Database.from_url(postgres_url) as database:
        first = PostgresPrimaryLock(postgres_url, database.engine)
        second = PostgresPrimaryLock(postgres_url, database.engine)
        try:
            assert not await first.held_by_anyone()
            assert await first.try_acquire() and await first.still_held()
            assert not await second.try_acquire() and not await second.still_held()
            assert await second.held_by_anyone()

            # The holder's session ends, as when its process is killed or its network lost.
            async with database.engine.connect() as connection:
                await connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                        " AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid) AND granted"
                    ),
                    {"high": PRIMARY_LOCK_KEY[0], "low": PRIMARY_LOCK_KEY[1]},
                )
            assert not await first.still_held()
            for _ in range(50):
                if await second.try_acquire():
                    break
                await asyncio.sleep(0.1)
            assert await second.still_held() and not await first.try_acquire()

            await second.release()
            assert await first.try_acquire()  # a release lets the next one in at once
        finally:
            await first.release()
            await second.release()
        assert not await first.held_by_anyone()
