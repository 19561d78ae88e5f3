"""Several `alertmail serve` processes on one real PostgreSQL, mailing a real aiosmtpd sink.

Each node is a separate process with its own data directory, sharing the database and the secret
key file, as docs/cluster.md deploys them. Heartbeats, the grace period and the check interval are
shortened so the tests run in seconds. Import the fixtures (`sink`, `start_cluster`) into a test
module to use them.
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
from pathlib import Path
from typing import Any

import httpx
import pytest

from alertmail.composition import open_container
from alertmail.config import AppConfig
from tests.support.app import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD
from tests.support.delivery import relay_changes
from tests.support.smtp import SmtpServerFactory, SmtpSink

HEARTBEAT = 0.3
GRACE = 2.0
CHECKS = 0.3  # seconds between failover-check rounds
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
        # No keep-alive: uvicorn closes an idle connection after 5 s, and a request sent on it just
        # as it closes fails with "Server disconnected" (the tests sleep through heartbeats).
        self.http = httpx.AsyncClient(
            trust_env=False, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)
        )

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
            "ALERTMAIL_FAILOVER_CHECK_SECONDS": str(CHECKS),
            "ALERTMAIL_PROBE_TIMEOUT_SECONDS": "1",
            # the nodes' hostname as the others reach it: the system's may not resolve in a sandbox
            "ALERTMAIL_NODE_HOSTNAME": "127.0.0.1",
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

    def pause(self, name: str) -> None:
        """The node hangs: alive, its sockets open, doing nothing (SIGSTOP)."""
        self.nodes[name].process.send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.nodes[name].process.send_signal(signal.SIGCONT)

    async def metrics(self, via: str) -> str:
        reply = await self.http.get(self.nodes[via].url + "/metrics", headers=self.headers)
        assert reply.status_code == 200, reply.text
        return reply.text

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
            node.process.send_signal(signal.SIGCONT)  # a paused node cannot hear SIGTERM
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
