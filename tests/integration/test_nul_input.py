"""NUL characters (#13 item 10) are refused with 422 naming the field, on SQLite and PostgreSQL
alike, through the API (every JSON or form body) and through the services the CLI uses."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from alertmail.composition import open_container
from alertmail.config import AppConfig
from alertmail.errors import SettingsValidationError
from tests.support.app import Api

SETTINGS = {"from_address": "alerts@example.com", "hostname": "smtp.example.com", "encryption": "starttls"}


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> AppConfig:
    """Every test here runs on SQLite and on PostgreSQL (which cannot store NUL at all)."""
    return AppConfig(data_dir=tmp_path / "data", database_url=database_url, node_name="test-node")


@pytest.fixture
async def api_on(api: Api) -> httpx.AsyncClient:
    await api.client.patch("/api/v1/mail-settings", json={**SETTINGS, "admin_contacts": "ops@example.com"})
    return api.client


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PATCH", "/api/v1/mail-settings", {"hostname": "smtp\x00.example.com"}, "hostname"),
        ("PATCH", "/api/v1/mail-settings", {"tls_trusted_ca": "\x00"}, "tls_trusted_ca"),
        ("POST", "/api/v1/events", {"type": "test", "details": {"note": "a\x00b"}}, "details.note"),
        ("POST", "/api/v1/events", {"type": "test", "dedupe_key": "k\x00"}, "dedupe_key"),
    ],
)
async def test_nul_is_refused_with_422_naming_the_field(
    api_on: httpx.AsyncClient, method: str, path: str, body: dict[str, object], field: str
) -> None:
    before = (await api_on.get("/api/v1/mail-settings")).json()
    answer = await api_on.request(method, path, json=body)
    assert answer.status_code == 422, answer.text
    assert field in [error["field"] for error in answer.json()["errors"]]
    assert (await api_on.get("/api/v1/mail-settings")).json() == before
    assert (await api_on.get("/api/v1/events")).json() == []


async def test_the_services_refuse_nul_too(app_config: AppConfig) -> None:
    # The CLI reaches the services without the API's middleware.
    async with open_container(app_config) as container:
        with pytest.raises(SettingsValidationError) as settings:
            await container.settings.save({**SETTINGS, "username": "u\x00"}, actor="test")
        with pytest.raises(SettingsValidationError) as event:
            await container.notifications.raise_event("test", {"note": "\x00"})
        assert [e.field for e in settings.value.errors] == ["username"]
        assert [e.field for e in event.value.errors] == ["details.note"]
        assert await container.notifications.recent() == []
