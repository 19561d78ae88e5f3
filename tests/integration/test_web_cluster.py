"""The Cluster page over HTTP, without a browser: the real app on SQLite, its nodes and their problems,
and the backup-operations switch behind the session's CSRF token."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from alertmail.adapters.storage.node_check_repository import SqlNodeCheckRepository
from alertmail.adapters.storage.node_repository import SqlNodeRepository
from alertmail.composition import Container
from alertmail.config import AppConfig
from alertmail.domain.cluster_checks import CheckResult
from alertmail.domain.ports import ClusterNode, NodeRole
from alertmail.interfaces.api.app import create_app
from alertmail.interfaces.web.routes.cluster import ago
from alertmail.services.cluster import NodeStatus
from tests.support.app import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, csrf_token_of, signed_in

NODE = "test-node"
CANNOT_REACH_TEST_IPS = "failover.backup_cannot_reach_test_ips"


@pytest.fixture
def app_config(tmp_path: Path) -> AppConfig:
    # After its first heartbeat the node's loop stays out of the tests' way: no check round records
    # its checks again, and no heartbeat write meets the tests' own on the one SQLite file.
    return AppConfig(
        data_dir=tmp_path / "data", node_name=NODE, heartbeat_seconds=3600, failover_check_seconds=3600
    )


@dataclass
class Web:
    app: FastAPI
    container: Container

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url="http://alertmail.test")


@pytest.fixture
async def web(app_config: AppConfig) -> AsyncIterator[Web]:
    app = create_app(app_config)
    async with app.router.lifespan_context(app):
        container: Container = app.state.container
        # First the node's registration: on SQLite a write meeting it makes it wait a heartbeat.
        await this_node_primary(container)
        await container.administrators.create(ADMIN, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        yield Web(app, container)


@pytest.fixture
async def http(web: Web) -> AsyncIterator[httpx.AsyncClient]:
    async with signed_in(web.app) as client:
        yield client


async def this_node_primary(container: Container) -> NodeStatus:
    """The app's cluster loop registers the node, takes the (SQLite) lock and records a heartbeat.

    Waited for to the end: on SQLite a transaction that reads before it writes (registering a node,
    the backup-operations switch) fails at once with "database is locked" when another write lands
    in between, so the tests write only once the loop has gone quiet.
    """
    for _ in range(200):
        mine = [s for s in await container.cluster.status() if s.this_node]
        if mine and mine[0].state == "primary" and mine[0].node.last_heartbeat > mine[0].node.started_at:
            return mine[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the app's node never became the primary")


async def register(container: Container, node_id: str, role: NodeRole) -> None:
    now = datetime.now(UTC)
    node = ClusterNode(node_id, f"{node_id}.example", "", "1.0.0", role, now, now, is_primary=False)
    await SqlNodeRepository(container.database.sessionmaker).register(
        node, instance_id=node_id, live_since=None
    )


async def node(container: Container, node_id: str) -> ClusterNode:
    return next(s.node for s in await container.cluster.status() if s.node.node_id == node_id)


def text_of(page: httpx.Response) -> str:
    return html.unescape(page.text)


async def test_the_page_needs_a_session(web: Web) -> None:
    async with web.client() as anonymous:
        page = await anonymous.get("/cluster")
        assert (page.status_code, page.headers["location"]) == (303, "/login?next=/cluster")
        toggle = await anonymous.post(f"/cluster/nodes/{NODE}/backup-operations", data={"enabled": "false"})
        assert toggle.status_code == 303
    assert (await node(web.container, NODE)).backup_disabled_since is None


async def test_the_page_lists_this_node_as_the_primary(http: httpx.AsyncClient) -> None:
    page = await http.get("/cluster")
    assert page.status_code == 200
    shown = text_of(page)
    assert '<a href="/cluster" aria-current="page">Cluster</a>' in page.text
    assert f"<strong>{NODE}</strong> — the primary" in shown
    # One SQLite node: no failover to speak of, and no backup operations to switch on the primary.
    assert "Automatic failover</dt><dd>Not in use: there is no backup node to take over" in shown
    assert "Not used: this node is the primary and the only node" in shown
    assert "Disable backup operations" not in shown
    assert "Every 3600 s; a node silent for 10800 s is down" in shown
    assert (
        f'<th scope="row" id="node-1">{NODE} <span class="badge badge-muted">this node</span></th>' in shown
    )
    assert '<span class="badge badge-ok">primary</span>' in shown
    assert "primary-capable" in shown and "s ago" in shown
    assert f"No problems found on {NODE}." in shown
    assert "embedded SQLite database: it is the only node, and always the primary" in shown
    assert "docs/cluster.md" in shown


async def test_a_failing_check_shows_its_title_and_the_seed_sentence(
    web: Web, http: httpx.AsyncClient
) -> None:
    since = datetime(2024, 5, 1, 12, 0, 5, tzinfo=UTC)
    failing = CheckResult(CANNOT_REACH_TEST_IPS, True, {"test_addresses": "192.0.2.1:443"})
    await SqlNodeCheckRepository(web.container.database.sessionmaker).record(NODE, [failing], now=since)

    shown = text_of(await http.get("/cluster"))
    kind = web.container.notifications.catalog.get(CANNOT_REACH_TEST_IPS)
    assert kind.title == "Failover: backup cannot reach any test IP"
    assert kind.title in shown and kind.summary in shown and kind.action in shown
    assert "2024-05-01 12:00:05 UTC" in shown
    assert '<dt>Test addresses</dt><dd class="break">192.0.2.1:443</dd>' in shown
    assert f"No problems found on {NODE}." not in shown


async def test_backup_operations_need_the_csrf_token(web: Web, http: httpx.AsyncClient) -> None:
    path = f"/cluster/nodes/{NODE}/backup-operations"
    for refused in ({}, {"csrf_token": "forged"}):
        answer = await http.post(path, data={"enabled": "false", **refused})
        assert answer.status_code == 403 and "Request refused" in answer.text
    assert (await node(web.container, NODE)).backup_disabled_since is None


async def test_backup_operations_are_disabled_and_enabled_again(web: Web, http: httpx.AsyncClient) -> None:
    await register(web.container, "node-b", "primary-capable")
    token = csrf_token_of((await http.get("/cluster")).text)
    path = "/cluster/nodes/node-b/backup-operations"

    disabled = await http.post(path, data={"csrf_token": token, "enabled": "false"})
    assert (disabled.status_code, disabled.headers["location"]) == (303, "/cluster?done=disabled&node=node-b")
    since = (await node(web.container, "node-b")).backup_disabled_since
    assert since is not None and datetime.now(UTC) - since < timedelta(minutes=1)
    assert (await node(web.container, NODE)).backup_disabled_since is None  # only the one node
    shown = text_of(await http.get(disabled.headers["location"]))
    assert "Backup operations disabled on node-b." in shown
    assert "Disabled since<br> " + since.strftime("%Y-%m-%d %H:%M:%S") + " UTC" in shown
    assert 'aria-label="Enable backup operations on node-b"' in shown

    enabled = await http.post(path, data={"csrf_token": token, "enabled": "true"})
    assert enabled.headers["location"] == "/cluster?done=enabled&node=node-b"
    assert (await node(web.container, "node-b")).backup_disabled_since is None
    assert "Backup operations enabled on node-b." in text_of(await http.get(enabled.headers["location"]))


async def test_a_made_up_notice_is_not_shown(http: httpx.AsyncClient) -> None:
    shown = text_of(await http.get("/cluster?done=disabled&node=someone-else"))
    assert "Backup operations disabled" not in shown


@pytest.mark.parametrize(
    ("node_id", "enabled", "status", "message"),
    [
        ("traffic-1", "false", 409, "traffic-1 is a traffic node: it has no backup operations"),
        ("nowhere", "false", 404, "there is no node 'nowhere'"),
        (NODE, "maybe", 422, "enabled must be true or false"),
    ],
)
async def test_a_refused_switch_says_why_on_the_page(
    web: Web, http: httpx.AsyncClient, node_id: str, enabled: str, status: int, message: str
) -> None:
    await register(web.container, "traffic-1", "traffic")
    token = csrf_token_of((await http.get("/cluster")).text)
    answer = await http.post(
        f"/cluster/nodes/{node_id}/backup-operations", data={"csrf_token": token, "enabled": enabled}
    )
    assert answer.status_code == status
    shown = text_of(answer)
    assert f'<div class="notice notice-error" role="alert">\n  \n  <p class="notice-text">{message}' in shown
    assert "Traceback" not in shown
    assert "None: a traffic node never becomes primary" in shown  # the traffic node has no button
    assert 'aria-label="Disable backup operations on traffic-1"' not in shown
    assert all(s.node.backup_disabled_since is None for s in await web.container.cluster.status())


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(-3, "0 s ago"), (4, "4 s ago"), (119, "119 s ago"), (600, "10 min ago"), (7200, "2 h ago"),
     (3 * 86400, "3 d ago")],
)  # fmt: skip
def test_heartbeat_ages_read_naturally(seconds: int, said: str) -> None:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    assert ago(now - timedelta(seconds=seconds), now) == said
