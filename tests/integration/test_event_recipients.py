"""No contacts, no silence: events before any Admin Contact exists, on SQLite and PostgreSQL.

With no contacts the e-mail goes to the administrators' own addresses, and Mail Server Logs says
so; with no addresses either, the event is recorded and /healthz and `alertmail outbox` warn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from alertmail.interfaces.api.app import create_app
from tests.support.app import Cli
from tests.support.browser import csrf_token_of
from tests.support.delivery import relay_changes

PASSWORD = "a long enough password 1"


@pytest.fixture
async def container(database_url: str, tmp_path: Path) -> AsyncIterator[Container]:
    config = AppConfig(data_dir=tmp_path / "data", database_url=database_url, node_name="n1")
    async with open_container(config) as opened:
        await opened.settings.save(relay_changes(2525, admin_contacts=[]), actor="test")
        yield opened


async def test_without_contacts_events_go_to_the_administrators_and_the_logs_say_so(
    container: Container,
) -> None:
    await container.administrators.create("alice", email="alice@example.com", password=PASSWORD)
    await container.administrators.create("bob", email=None, password=PASSWORD)
    await container.administrators.create("carol", email="carol@example.com", password=PASSWORD)

    recorded = await container.notifications.raise_event("test", {"note": "before any contact"})

    assert recorded.disposition == "mailed" and recorded.outbox_id is not None
    message = await container.outbox.get(recorded.outbox_id)
    assert sorted(message.recipients) == ["alice@example.com", "carol@example.com"]
    (entry,) = await container.mail_logs.list(category="no_admin_contacts")
    assert "alice@example.com, carol@example.com" in entry.message and "Admin Contacts" in entry.hint


async def test_contacts_once_set_are_the_only_recipients(container: Container) -> None:
    await container.administrators.create("alice", email="alice@example.com", password=PASSWORD)
    await container.settings.save({"admin_contacts": ["ops@example.com"]}, actor="test")
    recorded = await container.notifications.raise_event("test", {})
    assert recorded.outbox_id is not None
    assert (await container.outbox.get(recorded.outbox_id)).recipients == ("ops@example.com",)
    assert await container.mail_logs.list(category="no_admin_contacts") == []


async def test_with_nobody_to_mail_the_event_is_recorded_and_health_and_outbox_warn(
    container: Container, database_url: str
) -> None:
    await container.administrators.create("bob", email=None, password=PASSWORD)
    recorded = await container.notifications.raise_event("test", {})
    assert recorded.disposition == "no_recipients"
    assert [e.event.id for e in await container.notifications.recent()] == [recorded.event_id]

    app = create_app(container.config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://alertmail.test") as client:
            health = (await client.get("/healthz")).json()
    assert health["status"] == "ok" and health["recipients"] == "none"
    assert "Events reach nobody" in health["warnings"][0]

    if database_url.startswith("sqlite"):  # the CLI reads the data directory's own database
        shown = await Cli(container.config.data_dir).run("outbox")
        assert shown.returncode == 0 and "warning: Events reach nobody" in shown.stderr


async def test_the_web_ui_warns_when_events_reach_nobody(tmp_path: Path) -> None:
    config = AppConfig(data_dir=tmp_path / "data", node_name="n1", heartbeat_seconds=3600)
    app = create_app(config)
    async with app.router.lifespan_context(app):
        container: Container = app.state.container
        await container.administrators.create("bob", email=None, password=PASSWORD)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://alertmail.test") as client:
            form = await client.get("/login")
            login = {"csrf_token": csrf_token_of(form.text), "username": "bob", "password": PASSWORD}
            assert (await client.post("/login", data=login)).status_code == 303
            before = (await client.get("/mail-settings")).text
            await container.administrators.set_email("bob", "bob@example.com")
            after = (await client.get("/mail-settings")).text
    assert 'id="no-recipients"' in before and "Events reach nobody" in before
    assert 'id="no-recipients"' not in after
