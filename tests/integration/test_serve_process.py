"""A real `alertmail serve` process: accepted events stay out of the access log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from alertmail.composition import open_container
from alertmail.config import AppConfig
from tests.support.delivery import AlertmailProcess, alertmail_env, free_port


@dataclass
class Served:
    process: AlertmailProcess
    url: str
    token: str


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    data_dir = tmp_path / "data"
    async with open_container(AppConfig(data_dir=data_dir, node_name="serve-test")) as container:
        await container.administrators.create("admin", email="admin@example.com", password="correct horse")
        _, token = await container.administrators.create_token("t", administrator="admin")
    port = free_port()
    process = AlertmailProcess(
        ["serve", "--port", str(port)],
        alertmail_env(data_dir, node_name="serve-test"),
        tmp_path / "serve.log",
    )
    await process.start()
    url = f"http://127.0.0.1:{port}"
    try:
        await process.wait_healthy(url, within=60)
        yield Served(process, url, token)
    finally:
        await process.stop()


async def test_accepted_events_are_not_in_the_access_log_and_refused_ones_are(served: Served) -> None:
    headers = {"Authorization": f"Bearer {served.token}"}
    async with httpx.AsyncClient(base_url=served.url, headers=headers, trust_env=False) as http:
        accepted = await http.post("/api/v1/events", json={"type": "test", "details": {}})
        refused = await http.post("/api/v1/events", json={"type": "no.such.type"})
        listed = await http.get("/api/v1/event-types")
    assert (accepted.status_code, refused.status_code, listed.status_code) == (202, 422, 200)
    await asyncio.sleep(0.5)  # let the log lines reach the file
    log = served.process.output()
    assert '"POST /api/v1/events HTTP/1.1" 422' in log
    assert '"GET /api/v1/event-types HTTP/1.1" 200' in log
    assert '"POST /api/v1/events HTTP/1.1" 202' not in log


async def test_a_terminated_server_closes_its_services_once(tmp_path: Path) -> None:
    """`serve` opens its services before uvicorn starts (to see whether an administrator exists),
    once; the application's lifespan closes them before uvicorn re-raises the SIGTERM that ended
    it: the SQLite database is closed, its write-ahead log folded in and removed."""
    data_dir = tmp_path / "data"
    process = AlertmailProcess(
        ["serve", "--port", str(port := free_port())], alertmail_env(data_dir), tmp_path / "log"
    )
    await process.start()
    await process.wait_healthy(f"http://127.0.0.1:{port}", within=60)
    assert (data_dir / "alertmail.db-wal").exists()  # open, in WAL mode
    await process.stop()
    assert process.process.returncode == -15  # uvicorn's graceful stop, then the signal's own end
    assert not (data_dir / "alertmail.db-wal").exists()
    assert "Application shutdown complete." in process.output()
