"""`alertmail serve` as a real process on a free loopback port, with an administrator and a token.

For what only a served app shows: uvicorn's own handling of forwarded headers, and the API as a
client on the network sees it (the Schemathesis run).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from alertmail.composition import open_container
from alertmail.config import AppConfig
from tests.support.app import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD
from tests.support.delivery import HOST, AlertmailProcess, alertmail_env, free_port

__all__ = ["Served", "served_alertmail"]


@dataclass(frozen=True)
class Served:
    base_url: str
    admin_token: str
    process: AlertmailProcess


@asynccontextmanager
async def served_alertmail(tmp_path: Path, **settings: str) -> AsyncIterator[Served]:
    """`settings` are ALERTMAIL_* values (lower case, without the prefix)."""
    data_dir = tmp_path / "served-data"
    async with open_container(AppConfig(data_dir=data_dir, node_name="served")) as container:
        await container.administrators.create(ADMIN, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        _, token = await container.administrators.create_token("served", administrator=ADMIN)
    port = free_port()
    env = alertmail_env(data_dir, node_name="served", **settings)
    process = AlertmailProcess(["serve", "--host", HOST, "--port", str(port)], env, tmp_path / "serve.log")
    await process.start()
    base_url = f"http://{HOST}:{port}"
    try:
        await process.wait_healthy(base_url)
        yield Served(base_url, token, process)
    finally:
        await process.stop()
