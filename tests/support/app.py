"""The whole application on a fresh data directory: container, API client, administrator, CLI, and
an HTTP client signed in through the login form as a browser is (`signed_in`)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from alertmail.interfaces.api.app import create_app

ADMIN = "admin"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery"


@pytest.fixture
def app_config(tmp_path: Path) -> AppConfig:
    return AppConfig(data_dir=tmp_path / "data", node_name="test-node")


@pytest.fixture
async def container(app_config: AppConfig) -> AsyncIterator[Container]:
    async with open_container(app_config) as opened:
        yield opened


@dataclass
class Api:
    """An API client signed in as ADMIN with a bearer token, and the container behind it."""

    client: httpx.AsyncClient
    container: Container
    token: str


@asynccontextmanager
async def started_app(config: AppConfig) -> AsyncIterator[tuple[FastAPI, Container, str]]:
    """The application started (its lifespan entered), ADMIN created, and an API token of ADMIN's."""
    app = create_app(config)
    async with app.router.lifespan_context(app):
        container: Container = app.state.container
        await container.administrators.create(ADMIN, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        _, token = await container.administrators.create_token("tests", administrator=ADMIN)
        yield app, container, token


@pytest.fixture
async def api(app_config: AppConfig) -> AsyncIterator[Api]:
    async with started_app(app_config) as (app, container, token):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://alertmail.test", headers=headers
        ) as client:
            yield Api(client, container, token)


@dataclass
class Cli:
    """Runs `alertmail` as a separate process, the way an administrator does, on one data dir."""

    data_dir: Path

    def __call__(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "alertmail", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=120,
            check=False,
        )

    async def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """The same, without blocking the event loop the test's SMTP servers run on."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "alertmail", *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=self.env(),
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=120)
        assert process.returncode is not None
        return subprocess.CompletedProcess(list(args), process.returncode, out.decode(), err.decode())

    def env(self) -> dict[str, str]:
        env = {**os.environ, "ALERTMAIL_DATA_DIR": str(self.data_dir), "COLUMNS": "200"}
        env.pop("ALERTMAIL_DATABASE_URL", None)
        return env


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "cli-data")


def csrf_token_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


async def log_in(
    http: httpx.AsyncClient, password: str = ADMIN_PASSWORD, username: str = ADMIN
) -> httpx.Response:
    """Sign in through the login form, with the CSRF token its page carries."""
    form = await http.get("/login")
    token = csrf_token_of(form.text)
    return await http.post("/login", data={"csrf_token": token, "username": username, "password": password})


@asynccontextmanager
async def signed_in(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of `app` with ADMIN signed in: its session cookie goes with every request."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://alertmail.test") as client:
        answer = await log_in(client)
        assert answer.status_code == 303, answer.text
        yield client
