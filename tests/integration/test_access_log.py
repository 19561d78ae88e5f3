"""Logs carry no grants (#13 item 9): the OAuth callback's code and state never reach the log of a
real `alertmail serve`, while the request itself is still logged."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import httpx

from alertmail.interfaces.api.access_log import (
    GrantQueryFilter,
    QuietEventIngestion,
    install_access_log_filters,
)
from tests.support.cluster import free_port

CODE = "0.AUoAgrantcodeZZZ9"
STATE = "state-6e1f0b9a"


async def wait_until_up(url: str, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if process.returncode is not None:
                return
            try:
                await client.get(f"{url}/healthz")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)


async def test_the_callback_code_never_appears_in_the_server_log(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "ALERTMAIL_DATA_DIR": str(tmp_path / "data")}
    env.pop("ALERTMAIL_DATABASE_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "alertmail", "serve", "--port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_until_up(url, process)
        async with httpx.AsyncClient() as client:
            await client.get(f"{url}/login/smtp-verification", params={"code": CODE, "state": STATE})
            await client.get(f"{url}/login/smtp-verification/", params={"code": CODE, "state": STATE})
            await client.get(f"{url}/healthz", params={"probe": "kept"})
    finally:
        process.terminate()
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    log = out.decode() + err.decode()
    assert "GET /login/smtp-verification?[redacted]" in log, log  # the request is logged...
    assert CODE not in log and STATE not in log  # ...without its grant
    assert "/healthz?probe=kept" in log  # other queries are left alone


def test_the_filter_leaves_other_records_alone() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, "%s", ("started",), None)
    assert GrantQueryFilter().filter(record) and record.getMessage() == "started"


def access_record(method: str, path: str, status: int) -> logging.LogRecord:
    args = ("127.0.0.1:50000", method, path, "1.1", status)
    return logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', args, None)


def test_accepted_events_are_left_out_and_everything_else_is_logged() -> None:
    quiet = QuietEventIngestion()
    assert not quiet.filter(access_record("POST", "/api/v1/events", 202))
    assert quiet.filter(access_record("POST", "/api/v1/events", 422))  # a refused event is logged
    assert quiet.filter(access_record("GET", "/api/v1/events", 200))
    assert quiet.filter(access_record("POST", "/api/v1/tokens", 201))


def test_both_filters_are_installed_once() -> None:
    logger = logging.getLogger("uvicorn.access")
    install_access_log_filters()
    install_access_log_filters()
    kinds = [type(f) for f in logger.filters if isinstance(f, GrantQueryFilter | QuietEventIngestion)]
    assert sorted(kind.__name__ for kind in kinds) == ["GrantQueryFilter", "QuietEventIngestion"]
