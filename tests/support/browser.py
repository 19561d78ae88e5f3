"""The web UI in a real browser: the whole app under uvicorn, and Debian's Chromium driven by Playwright.

- `live_app`: `create_app(config)` served by a real uvicorn on 127.0.0.1 and a port the system picks,
  on the test's own event loop (so the test's aiosmtpd relays and the app share it, and the test can
  reach the app's services through `live_app.container`). An administrator `ADMIN` exists.
- `page`: a fresh browser context and page of Chromium at `/usr/bin/chromium` (never a downloaded
  browser). When it is missing the test skips, saying how to install it, unless
  `ALERTMAIL_REQUIRE_BROWSER=1` (CI), which makes it fail. Errors in the browser console on our own
  pages (a script error, a Content-Security-Policy violation) fail the test at teardown.
- `screenshot(page, name)`: a full-page PNG under `test-artifacts/screenshots/` (git-ignored).
- `sign_in(page, live_app)`: through the login form, as an administrator would.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from alertmail.composition import Container
from alertmail.config import AppConfig
from alertmail.interfaces.api.app import create_app
from tests.support.app import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, csrf_token_of

__all__ = [
    "ADMIN",
    "ADMIN_EMAIL",
    "ADMIN_PASSWORD",
    "CHROMIUM",
    "LiveApp",
    "browser",
    "csrf_token_of",
    "live_app",
    "page",
    "screenshot",
    "serve_app",
    "sign_in",
    "watch_console",
]

CHROMIUM = Path(os.environ.get("ALERTMAIL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
MISSING_BROWSER = (
    f"the browser tests need Debian's Chromium at {CHROMIUM}: apt-get install chromium "
    "(CI sets ALERTMAIL_REQUIRE_BROWSER=1 to fail instead of skipping)"
)


@dataclass
class LiveApp:
    """The app answering at `url`, and its services."""

    url: str
    app: FastAPI
    server: uvicorn.Server
    console_errors: list[str] = field(default_factory=list)

    @property
    def container(self) -> Container:
        container: Container = self.app.state.container
        return container


async def serve_app(app: FastAPI) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """Start uvicorn for `app` on a free port of 127.0.0.1; its URL once it accepts requests."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # No websockets (the UI uses none) and no access log: the test output stays readable.
    config = uvicorn.Config(app, log_level="warning", ws="none", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    for _ in range(300):
        if server.started:
            return server, task, f"http://127.0.0.1:{port}"
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    raise AssertionError("uvicorn did not start within 6 seconds")


async def stop_app(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await asyncio.wait_for(task, timeout=30)


@pytest.fixture
async def live_app(app_config: AppConfig) -> AsyncIterator[LiveApp]:
    app = create_app(app_config)
    server, task, url = await serve_app(app)
    try:
        live = LiveApp(url, app, server)
        await live.container.administrators.create(ADMIN, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        yield live
    finally:
        await stop_app(server, task)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("ALERTMAIL_REQUIRE_BROWSER") == "1":
            pytest.fail(MISSING_BROWSER)
        pytest.skip(MISSING_BROWSER)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser, live_app: LiveApp) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    opened = await context.new_page()
    opened.set_default_timeout(15_000)
    watch_console(opened, live_app)
    try:
        yield opened
    finally:
        await context.close()
    assert live_app.console_errors == [], "the browser reported errors on our pages"


def watch_console(page: Page, live: LiveApp) -> None:
    """Keep the browser's errors on our pages (script errors, CSP violations) in `live.console_errors`."""

    def keep_errors(message: ConsoleMessage) -> None:
        # Chromium also reports every 4xx/5xx answer as an error; those are the tests' business.
        if message.text.startswith("Failed to load resource"):
            return
        if message.type == "error" and message.location.get("url", "").startswith(live.url):
            live.console_errors.append(f"{message.location.get('url')}: {message.text}")

    page.on("console", keep_errors)
    page.on("pageerror", lambda error: live.console_errors.append(f"page error: {error}"))


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def sign_in(page: Page, live: LiveApp, username: str = ADMIN, password: str = ADMIN_PASSWORD) -> None:
    await page.goto(live.url + "/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r".*/mail-settings$"))
