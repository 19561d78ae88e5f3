"""First run: `alertmail serve` with no administrator prints a one-time setup link; the browser
opens it, creates the first administrator and is signed in; the link then no longer works."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.support.app import Cli
from tests.support.browser import screenshot


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def setup_link(cli: Cli, tmp_path: Path) -> AsyncIterator[str]:
    """`alertmail serve` on an empty data directory, and the setup link it printed."""
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "alertmail", "serve", "--port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=log, env=cli.env(),
    )  # fmt: skip
    try:
        yield await _link_printed_by(process)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=30)
        log.close()


async def _link_printed_by(process: asyncio.subprocess.Process) -> str:
    """Read what serve prints up to the command-line alternative; the link is above it."""
    assert process.stdout is not None
    printed = ""
    while "alertmail admin create USERNAME --email ADDRESS" not in printed:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
        assert line, "serve ended without saying how to create the first administrator: " + printed
        printed += line
    found = re.search(r"(http://\S+/setup\?token=\S+)", printed)
    assert found, printed
    return found.group(1)


async def _wait_until_up(url: str) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        for _ in range(300):
            try:
                if (await http.get(url + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("alertmail serve did not answer /healthz")


async def test_the_setup_link_creates_the_first_administrator_once(browser: Browser, setup_link: str) -> None:
    base = setup_link.split("/setup?")[0]
    await _wait_until_up(base)
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await page.goto(base + "/mail-settings")
        await expect(page.get_by_text("No administrator yet.")).to_be_visible()  # the login page says how
        await page.goto(setup_link)
        await page.get_by_label("Username").fill("first")
        await page.get_by_label("E-mail").fill("first@example.com")
        await page.get_by_label("Password", exact=True).fill("first admin password")
        await page.get_by_label("Password again").fill("first admin password")
        await screenshot(page, "first-run-setup")
        await page.get_by_role("button", name="Create administrator and sign in").click()
        await expect(page).to_have_url(base + "/mail-settings")
        await expect(page.get_by_text("Signed in as first")).to_be_visible()

        await page.goto(setup_link)
        await expect(page.get_by_text("An administrator exists already")).to_be_visible()
    finally:
        await context.close()
