"""The Cluster page in the browser: the nodes with their states and problems, the backup-operations
switch, and the page on a phone-sized screen."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from alertmail.adapters.storage.node_check_repository import SqlNodeCheckRepository
from alertmail.adapters.storage.node_repository import SqlNodeRepository
from alertmail.composition import Container
from alertmail.config import AppConfig
from alertmail.domain.cluster_checks import CheckResult
from alertmail.domain.ports import ClusterNode, NodeRole
from tests.support.browser import LiveApp, screenshot, sign_in, watch_console

NODE = "test-node"


@pytest.fixture
def app_config(tmp_path: Path) -> AppConfig:
    # No check round of the node's own: the problems the test records stay as recorded.
    return AppConfig(data_dir=tmp_path / "data", node_name=NODE, failover_check_seconds=3600)


async def this_node_primary(container: Container) -> None:
    """Wait until the app's loop has registered the node, taken the lock and recorded a heartbeat.

    Then it is quiet for a heartbeat (5 s): on SQLite a transaction that reads before it writes
    (registering a node, the backup-operations switch) fails at once with "database is locked" when
    another write lands in between. A registration that met the fixture's adding the administrator
    is tried again a heartbeat later.
    """
    for _ in range(300):
        for status in await container.cluster.status():
            node = status.node
            if status.this_node and status.state == "primary" and node.last_heartbeat > node.started_at:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the app's node never became the primary")


async def a_cluster(container: Container) -> None:
    """This node as the primary, a backup that cannot reach its test address, a traffic node, and
    a node that stopped heartbeating an hour ago."""
    await this_node_primary(container)
    now = datetime.now(UTC)
    nodes = SqlNodeRepository(container.database.sessionmaker)
    others: list[tuple[str, NodeRole, datetime]] = [
        ("node-b", "primary-capable", now),
        ("traffic-1", "traffic", now),
        ("old-node", "primary-capable", now - timedelta(hours=1)),
    ]
    for node_id, role, heard in others:
        url = f"https://{node_id}.example.com:8025"
        await nodes.register(
            ClusterNode(
                node_id, f"{node_id}.example.com", url, "1.0.0", role, heard, heard, is_primary=False
            ),
            instance_id=node_id,
            live_since=None,
        )
    failing = CheckResult(
        "failover.backup_cannot_reach_test_ips",
        True,
        {"test_addresses": "192.0.2.1:443", "error": "192.0.2.1:443: connection timed out"},
    )
    await SqlNodeCheckRepository(container.database.sessionmaker).record("node-b", [failing], now=now)


async def test_the_nodes_their_problems_and_the_backup_operations_switch(
    page: Page, live_app: LiveApp
) -> None:
    await a_cluster(live_app.container)
    await sign_in(page, live_app)
    await page.get_by_role("link", name="Cluster").click()
    await expect(page.get_by_role("heading", name="Cluster", level=1)).to_be_visible()
    await expect(page.get_by_role("link", name="Cluster")).to_have_attribute("aria-current", "page")

    mine = page.get_by_role("row", name=re.compile(f"^{NODE} this node primary"))
    await expect(mine).to_be_visible()
    await expect(page.get_by_role("row", name=re.compile("^old-node down"))).to_be_visible()
    await expect(page.get_by_text("Failover: backup cannot reach any test IP")).to_be_visible()
    await expect(
        page.get_by_text("The backup node could not contact any of the test IP addresses configured")
    ).to_be_visible()
    await expect(page.get_by_text(f"No problems found on {NODE}.")).to_be_visible()
    await expect(page.get_by_role("button", name="Disable backup operations on traffic-1")).to_have_count(0)

    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Disable backup operations on node-b").click()
    await expect(page.get_by_text("Backup operations disabled on node-b.")).to_be_visible()
    backup = page.get_by_role("row", name=re.compile("^node-b backup"))
    await expect(backup).to_contain_text(re.compile(r"Disabled since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"))
    await expect(page.get_by_role("button", name="Enable backup operations on node-b")).to_be_visible()
    await screenshot(page, "cluster")
    node_b = next(s.node for s in await live_app.container.cluster.status() if s.node.node_id == "node-b")
    assert node_b.backup_disabled_since is not None

    await page.get_by_role("button", name="Enable backup operations on node-b").click()
    await expect(page.get_by_text("Backup operations enabled on node-b.")).to_be_visible()
    await expect(backup).to_contain_text("Enabled")


async def test_the_page_works_on_a_narrow_screen(browser: Browser, live_app: LiveApp) -> None:
    await a_cluster(live_app.container)
    phone = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    narrow = await phone.new_page()
    watch_console(narrow, live_app)
    try:
        await sign_in(narrow, live_app)
        await narrow.goto(live_app.url + "/cluster")
        await expect(narrow.get_by_text("Failover: backup cannot reach any test IP")).to_be_visible()
        width = await narrow.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the cluster page scrolls sideways on a phone ({width}px)"
        await screenshot(narrow, "narrow-cluster")
    finally:
        await phone.close()
    assert live_app.console_errors == []
