"""Files and input (#13 item 10): the database files are 0600 whatever the data directory's mode,
and cookie-authenticated changes must come from this server's own origin (NUL: test_nul_input.py)."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from alertmail.composition import open_container
from alertmail.config import AppConfig
from alertmail.interfaces.api.app import create_app
from tests.support.app import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD
from tests.support.browser import csrf_token_of

SETTINGS = {"from_address": "alerts@example.com", "hostname": "smtp.example.com", "encryption": "starttls"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


async def test_database_wal_and_shm_files_are_owner_only(tmp_path: Path, open_umask: None) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o777)
    data.chmod(0o777)  # an administrator's lax data directory
    async with open_container(AppConfig(data_dir=data)) as container:
        await container.settings.save(SETTINGS, actor="test")
        files = {path.name: mode(path) for path in data.glob("alertmail.db*")}
    assert {"alertmail.db", "alertmail.db-wal", "alertmail.db-shm"} <= set(files), files
    assert set(files.values()) == {0o600}, {name: oct(m) for name, m in files.items()}


async def test_a_database_left_readable_by_an_older_version_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with open_container(AppConfig(data_dir=data)):
        pass
    for path in data.glob("alertmail.db*"):
        path.chmod(0o644)
    async with open_container(AppConfig(data_dir=data)):
        assert {mode(path) for path in data.glob("alertmail.db*")} == {0o600}


# --- Origin of cookie-authenticated changes ----------------------------------------------------------


async def login_form(http: httpx.AsyncClient) -> dict[str, str]:
    form = await http.get("/login")
    return {"csrf_token": csrf_token_of(form.text), "username": ADMIN, "password": ADMIN_PASSWORD}


@pytest.fixture
async def signed_in(app_config: AppConfig) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    app = create_app(app_config)
    async with app.router.lifespan_context(app):
        await app.state.container.administrators.create(ADMIN, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://alertmail.test") as http:
            assert (await http.post("/login", data=await login_form(http))).status_code in (302, 303)
            page = await http.get("/mail-settings")
            yield http, csrf_token_of(page.text)


FOREIGN = [{"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"}, {"Origin": "null"},
           {"Origin": "http://alertmail.test:8080"}, {"Origin": "https://alertmail.test"}]  # fmt: skip
OWN = [{"Origin": "http://alertmail.test"}, {"Referer": "http://alertmail.test/mail-settings"}, {}]


@pytest.mark.parametrize(("headers", "status"), [(h, 403) for h in FOREIGN] + [(h, 200) for h in OWN])
async def test_cookie_authenticated_changes_must_come_from_this_server(
    signed_in: tuple[httpx.AsyncClient, str], headers: dict[str, str], status: int
) -> None:
    http, token = signed_in
    answer = await http.patch(
        "/api/v1/mail-settings", json=SETTINGS, headers={"X-CSRF-Token": token, **headers}
    )
    assert answer.status_code == status, answer.text
    if status == 403:
        assert "another site" in answer.json()["message"]
        assert (await http.get("/api/v1/mail-settings")).json()["version"] == 0


async def test_the_login_form_from_another_origin_is_refused(app_config: AppConfig) -> None:
    app = create_app(app_config)
    async with app.router.lifespan_context(app):
        await app.state.container.administrators.create(ADMIN, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://alertmail.test") as http:
            evil = {"Origin": "https://evil.example"}
            refused = await http.post("/login", data=await login_form(http), headers=evil)
    assert refused.status_code == 403
