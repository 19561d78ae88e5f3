"""The fallback transport in the web UI, over HTTP: its own section of Mail Settings (saved,
refused with the field named, its password never rendered), the banner every page shows while mail
goes through the fallback, and which transport sent each message on the Delivery tab."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from alertmail.adapters.storage.transport_state_repository import SqlTransportStateRepository
from alertmail.composition import Container
from alertmail.config import AppConfig
from alertmail.domain.fallback import PrimaryFailure, TransportSwitch
from alertmail.interfaces.api.app import create_app
from tests.support.app import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD
from tests.support.browser import csrf_token_of
from tests.support.delivery import relay_changes
from tests.support.outbox import seed

FALLBACK_PASSWORD = "Web-Fallback-Canary-91b"


@pytest.fixture
def app_config(tmp_path: Path) -> AppConfig:
    return AppConfig(data_dir=tmp_path / "data", node_name="test-node", heartbeat_seconds=3600, worker=False)


@pytest.fixture
async def app(app_config: AppConfig) -> AsyncIterator[FastAPI]:
    app = create_app(app_config)
    async with app.router.lifespan_context(app):
        container: Container = app.state.container
        await container.administrators.create(ADMIN, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        await container.settings.save(relay_changes(2525), actor="test")
        yield app


@pytest.fixture
def container(app: FastAPI) -> Container:
    found: Container = app.state.container
    return found


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://alertmail.test") as client:
        form = await client.get("/login")
        signed_in = await client.post(
            "/login",
            data={"csrf_token": csrf_token_of(form.text), "username": ADMIN, "password": ADMIN_PASSWORD},
        )
        assert signed_in.status_code == 303
        yield client


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the page carries no CSRF token"
    return found.group(1)


FALLBACK_FORM = {
    "fallback_email_type": "smtp",
    "fallback_hostname": "relay.example.net",
    "fallback_port": "465",
    "fallback_encryption": "tls",
    "fallback_auth_type": "basic",
    "fallback_username": "relay-user",
    "fallback_password": FALLBACK_PASSWORD,
    "fallback_after_minutes": "5",
}


async def test_the_fallback_section_saves_and_never_renders_its_password(
    container: Container, http: httpx.AsyncClient
) -> None:
    page = await http.get("/mail-settings")
    assert "Fallback Transport" in page.text and 'id="f-fallback_email_type"' in page.text
    saved = await http.post("/mail-settings", data={"csrf_token": csrf_of(page), **FALLBACK_FORM})
    assert saved.status_code == 303, saved.text
    settings = (await container.settings.current()).settings
    assert (settings.fallback_email_type, settings.fallback_hostname, settings.fallback_port) == (
        "smtp",
        "relay.example.net",
        465,
    )
    assert settings.fallback_password is not None
    assert settings.fallback_password.get_secret_value() == FALLBACK_PASSWORD
    assert settings.fallback_after_minutes == 5
    again = await http.get("/mail-settings")
    assert FALLBACK_PASSWORD not in again.text
    assert re.search(r'id="f-fallback_password-state">set<', again.text)


GRAPH_SECRET = "Web-Graph-Fallback-Secret-4c"


async def test_a_graph_fallback_is_set_in_the_fallback_section_and_its_secret_never_rendered(
    container: Container, http: httpx.AsyncClient
) -> None:
    page = await http.get("/mail-settings")
    assert 'id="f-fallback_client_secret"' in page.text and 'id="f-fallback_tenant_id"' in page.text
    form = {
        "fallback_email_type": "graph",
        "fallback_graph_endpoint": "https://graph.microsoft.com",
        "fallback_tenant_id": "fabrikam.onmicrosoft.com",
        "fallback_client_id": "fallback-app",
        "fallback_client_secret": GRAPH_SECRET,
        "fallback_auth_type": "none",
        "fallback_username": "alerts@fabrikam.com",
        "fallback_after_minutes": "5",
    }
    missing = await http.post(
        "/mail-settings", data={"csrf_token": csrf_of(page), **form, "fallback_client_id": ""}
    )
    assert missing.status_code == 422 and 'href="#f-fallback_client_id"' in missing.text
    assert "Fallback application (client)" in html.unescape(missing.text) and GRAPH_SECRET not in missing.text
    saved = await http.post("/mail-settings", data={"csrf_token": csrf_of(page), **form})
    assert saved.status_code == 303, saved.text
    settings = (await container.settings.current()).settings
    assert (settings.fallback_email_type, settings.fallback_tenant_id, settings.fallback_client_id) == (
        "graph",
        "fabrikam.onmicrosoft.com",
        "fallback-app",
    )
    assert settings.fallback_client_secret is not None
    assert settings.fallback_client_secret.get_secret_value() == GRAPH_SECRET
    again = await http.get("/mail-settings")
    assert GRAPH_SECRET not in again.text
    assert re.search(r'id="f-fallback_client_secret-state">set<', again.text)


async def test_a_bad_fallback_value_is_refused_naming_its_field_and_nothing_is_saved(
    container: Container, http: httpx.AsyncClient
) -> None:
    before = await container.settings.current()
    page = await http.get("/mail-settings")
    bad = FALLBACK_FORM | {"fallback_port": "70000", "fallback_username": ""}
    refused = await http.post("/mail-settings", data={"csrf_token": csrf_of(page), **bad})
    assert refused.status_code == 422
    text = html.unescape(refused.text)
    assert 'href="#f-fallback_port"' in refused.text and "Fallback relay port" in text
    assert 'href="#f-fallback_username"' in refused.text
    assert FALLBACK_PASSWORD not in refused.text
    assert (await container.settings.current()).version == before.version


async def test_every_page_says_while_mail_goes_through_the_fallback_and_the_delivery_tab_says_which_sent(
    container: Container, http: httpx.AsyncClient
) -> None:
    assert 'id="fallback-in-use"' not in (await http.get("/mail-settings")).text
    state = SqlTransportStateRepository(container.database.sessionmaker)
    failure = PrimaryFailure("smtp_auth", "535 5.7.3 Authentication unsuccessful", "Check the Password.")
    await state.primary_failed(datetime.now(UTC), failure, timedelta(minutes=10))
    assert await state.switch(TransportSwitch("fallback", datetime.now(UTC), expected_generation=0))
    await seed(container, "Sent through the spare", "sent", transport="fallback")
    for path in ("/mail-settings", "/mail-settings/delivery", "/mail-settings/logs", "/administrators"):
        text = html.unescape((await http.get(path)).text)
        assert 'id="fallback-in-use"' in text, path
        assert "Mail is going through the fallback transport" in text
        assert "smtp_auth" in text and "535 5.7.3 Authentication unsuccessful" in text
        assert "Check the Password." in text
    delivery = html.unescape((await http.get("/mail-settings/delivery")).text)
    assert "via fallback" in delivery
    assert (await http.get("/mail-settings/logs?category=fallback")).status_code == 200  # the banner's link
