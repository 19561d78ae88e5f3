"""Web UI sign-in over HTTP, without a browser: sessions, cookies, CSRF, the login rate limit,
the first-run setup link, and the REST API accepting a session."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from alertmail.adapters.storage.web_session_repository import SqlWebSessionRepository
from alertmail.composition import Container
from alertmail.config import AppConfig
from alertmail.domain import messages
from alertmail.errors import ConflictError
from alertmail.interfaces.api.app import create_app
from alertmail.interfaces.web.session import SESSION_COOKIE
from alertmail.services.web_sessions import WebSessionService
from tests.support.app import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, csrf_token_of, log_in

SETUP_TOKEN = "first-run-setup-token-for-tests"
CLIENT = ("192.0.2.10", 50000)


@dataclass
class Web:
    app: FastAPI
    container: Container

    def client(
        self, *, client: tuple[str, int] = CLIENT, base_url: str = "http://alertmail.test"
    ) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=client)
        return httpx.AsyncClient(transport=transport, base_url=base_url)


@pytest.fixture
async def web(app_config: AppConfig) -> AsyncIterator[Web]:
    app = create_app(app_config, setup_token=SETUP_TOKEN)
    async with app.router.lifespan_context(app):
        yield Web(app, app.state.container)


@pytest.fixture
async def admin(web: Web) -> None:
    await web.container.administrators.create(ADMIN, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)


async def page_token(http: httpx.AsyncClient, path: str = "/mail-settings") -> str:
    page = await http.get(path)
    assert page.status_code == 200, page.text
    return csrf_token_of(page.text)


# --- pages need a session ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/mail-settings", "/mail-settings/logs", "/mail-settings/logs.csv", "/administrators"]
)
async def test_pages_send_the_browser_to_the_login_page(web: Web, admin: None, path: str) -> None:
    async with web.client() as http:
        answer = await http.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=" + path
        htmx = await http.get(path, headers={"HX-Request": "true"})
        assert (htmx.status_code, htmx.headers["HX-Redirect"]) == (401, "/login?next=" + path)


async def test_signing_in_sets_a_hardened_cookie_whose_value_is_not_stored(
    web: Web, admin: None, app_config: AppConfig
) -> None:
    async with web.client() as http:
        answer = await log_in(http)
        assert (answer.status_code, answer.headers["location"]) == (303, "/mail-settings")
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(SESSION_COOKIE + "=") and "HttpOnly" in cookie
        assert "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()
        value = http.cookies[SESSION_COOKIE]
        page = await http.get("/mail-settings")
        assert page.status_code == 200 and f"Signed in as <strong>{ADMIN}</strong>" in page.text
        assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert page.headers["Referrer-Policy"] == "same-origin"  # Origin kept for this server only

    with closing(sqlite3.connect(app_config.data_dir / "alertmail.db")) as db:
        rows = db.execute("SELECT id, csrf_token FROM web_sessions").fetchall()
    assert rows == [(hashlib.sha256(value.encode()).hexdigest(), csrf_token_of(page.text))]
    assert value not in (app_config.data_dir / "alertmail.db").read_bytes().decode("latin-1")


async def test_the_cookie_is_secure_when_the_public_address_is_https(tmp_path: Path) -> None:
    config = AppConfig(data_dir=tmp_path / "data", public_url="https://appliance.example")
    app = create_app(config)
    async with app.router.lifespan_context(app):
        web = Web(app, app.state.container)
        await web.container.administrators.create(ADMIN, email=None, password=ADMIN_PASSWORD)
        async with web.client(base_url="https://appliance.example") as http:
            answer = await log_in(http)
    assert "secure" in answer.headers["set-cookie"].lower()


async def test_a_wrong_password_is_refused_and_the_next_page_is_kept(web: Web, admin: None) -> None:
    async with web.client() as http:
        form = await http.get("/login?next=/administrators")
        token = csrf_token_of(form.text)
        wrong = {"csrf_token": token, "username": ADMIN, "password": "nope", "next": "/administrators"}
        refused = await http.post("/login", data=wrong)
        assert refused.status_code == 401 and "The username or password is not correct." in refused.text
        right = await http.post("/login", data=wrong | {"password": ADMIN_PASSWORD})
        assert right.headers["location"] == "/administrators"
        elsewhere = await http.post(
            "/login", data=wrong | {"password": ADMIN_PASSWORD, "next": "//evil.example/"}
        )
        assert elsewhere.headers["location"] == "/mail-settings"  # never off this server


# --- CSRF ---------------------------------------------------------------------------------------


async def test_the_login_form_needs_its_token(web: Web, admin: None) -> None:
    async with web.client() as http:
        await http.get("/login")  # the browser has the cookie half of the token...
        answer = await http.post("/login", data={"username": ADMIN, "password": ADMIN_PASSWORD})
    assert answer.status_code == 403  # ...but the form did not carry the other half
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")


async def test_state_changing_forms_need_the_session_token(web: Web, admin: None) -> None:
    change = {"from_address": "alerts@example.com", "hostname": "smtp.example.com"}
    async with web.client() as http:
        await log_in(http)
        token = await page_token(http)
        for refused in ({}, {"csrf_token": "forged"}):
            answer = await http.post("/mail-settings", data=change | refused)
            assert answer.status_code == 403 and "Request refused" in answer.text
        assert (await web.container.settings.current()).version == 0
        by_header = await http.post("/mail-settings", data=change, headers={"X-CSRF-Token": token})
        assert (by_header.status_code, by_header.headers["location"]) == (303, "/mail-settings")
        assert (
            messages.CHANGES_SAVED in (await http.get("/mail-settings")).text
        )  # told once, after the redirect
        assert (await http.post("/logout")).status_code == 403  # signing out is a change too


async def test_the_api_accepts_a_session_and_wants_the_csrf_header_for_changes(web: Web, admin: None) -> None:
    async with web.client() as http:
        assert (await http.get("/api/v1/mail-settings")).status_code == 401
        await log_in(http)
        token = await page_token(http)
        assert (await http.get("/api/v1/mail-settings")).status_code == 200
        body = {"from_address": "alerts@example.com", "hostname": "smtp.example.com"}
        refused = await http.patch("/api/v1/mail-settings", json=body)
        assert refused.status_code == 403 and refused.json()["message"]
        accepted = await http.patch("/api/v1/mail-settings", json=body, headers={"X-CSRF-Token": token})
        assert accepted.status_code == 200, accepted.text


# --- rate limit, sign out, password change ----------------------------------------------------------


async def test_five_failed_sign_ins_lock_that_name_from_that_address_for_a_while(
    web: Web, admin: None
) -> None:
    async with web.client() as http:
        for _ in range(5):
            assert (await log_in(http, password="guess")).status_code == 401
        locked = await log_in(http)  # even the right password
        assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
    async with web.client(client=("192.0.2.99", 40000)) as elsewhere:
        assert (await log_in(elsewhere)).status_code == 303  # another address is not locked out


async def test_signing_out_ends_the_session_on_the_server(web: Web, admin: None) -> None:
    async with web.client() as http:
        await log_in(http)
        value = http.cookies[SESSION_COOKIE]
        token = await page_token(http)
        answer = await http.post("/logout", data={"csrf_token": token})
        assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    async with web.client() as replay:
        replay.cookies.set(SESSION_COOKIE, value)
        assert (await replay.get("/mail-settings")).status_code == 303


async def test_a_password_change_signs_out_the_other_browsers(web: Web, admin: None) -> None:
    async with web.client() as mine, web.client() as other:
        await log_in(mine)
        await log_in(other)
        token = await page_token(mine, "/administrators")
        new = "a new long password"
        form = {"csrf_token": token, "current_password": ADMIN_PASSWORD, "new_password": new}
        mismatch = await mine.post("/account/password", data=form | {"new_password_confirm": "other"})
        assert mismatch.status_code == 422
        changed = await mine.post("/account/password", data=form | {"new_password_confirm": new})
        assert changed.headers["location"] == "/administrators?done=password"
        assert (await mine.get("/mail-settings")).status_code == 200
        assert (await other.get("/mail-settings")).status_code == 303


async def test_sessions_end_after_idle_time_and_at_their_lifetime(web: Web, admin: None) -> None:
    now = [datetime(2026, 1, 1, 9, 0, tzinfo=UTC)]
    sessions = WebSessionService(
        SqlWebSessionRepository(web.container.database.sessionmaker),
        web.container.administrators,
        idle=timedelta(minutes=30),
        lifetime=timedelta(hours=2),
        clock=lambda: now[0],
    )
    admin_record = await web.container.administrators.get(ADMIN)
    assert admin_record is not None
    started = await sessions.start(admin_record, user_agent="test")
    for minutes in (25, 50, 75, 100):  # each visit within the idle time keeps it alive...
        now[0] = datetime(2026, 1, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes)
        assert await sessions.resolve(started.cookie_value) is not None
    now[0] += timedelta(minutes=25)  # ...until two hours after sign-in, whatever the activity
    assert await sessions.resolve(started.cookie_value) is None

    idle = await sessions.start(admin_record, user_agent="test")
    now[0] += timedelta(minutes=31)
    assert await sessions.resolve(idle.cookie_value) is None


# --- first run ------------------------------------------------------------------------------------


async def test_the_setup_link_creates_the_first_administrator_once(web: Web) -> None:
    async with web.client() as http:
        assert (await http.get("/setup?token=wrong")).status_code == 403
        form = await http.get(f"/setup?token={SETUP_TOKEN}")
        assert form.status_code == 200
        fields = {
            "csrf_token": csrf_token_of(form.text),
            "token": SETUP_TOKEN,
            "username": "first",
            "email": "",
        }
        short = await http.post("/setup", data=fields | {"password": "short", "password_confirm": "short"})
        assert short.status_code == 422 and "at least 8 characters" in short.text  # the link still works
        # Every problem at once: a bad username, a short password and a mismatch, in one answer.
        bad = fields | {"username": "-x", "password": "short", "password_confirm": "other"}
        all_three = await http.post("/setup", data=bad)
        assert all(
            f'id="f-{name}-error"' in all_three.text for name in ("username", "password", "password_confirm")
        )
        good = fields | {"password": "long enough pw", "password_confirm": "long enough pw"}
        created = await http.post("/setup", data=good)
        assert (created.status_code, created.headers["location"]) == (303, "/mail-settings")
        assert (await http.get("/mail-settings")).status_code == 200  # signed in as the new one
        again = await http.post("/setup", data=good | {"username": "second"})
        assert again.status_code == 403
    assert [a.username for a in await web.container.administrators.list()] == ["first"]


async def test_without_a_setup_token_the_link_does_nothing(app_config: AppConfig) -> None:
    app = create_app(app_config)
    async with app.router.lifespan_context(app), Web(app, app.state.container).client() as http:
        assert (await http.get("/setup?token=")).status_code == 403
        login = await http.get("/login")
    assert "alertmail admin create USERNAME --email ADDRESS" in login.text


async def test_the_callback_without_a_session_still_answers(web: Web) -> None:
    async with web.client() as http:
        page = await http.get("/login/smtp-verification", params={"state": "unknown", "code": "x"})
    assert page.status_code == 400
    assert "start the sign-in again" in page.text and "Sign out" not in page.text


# --- administrators -------------------------------------------------------------------------------


async def test_removing_oneself_or_the_last_administrator_is_refused(web: Web, admin: None) -> None:
    async with web.client() as http:
        await log_in(http)
        token = await page_token(http, "/administrators")
        itself = await http.post(f"/administrators/{ADMIN}/remove", data={"csrf_token": token})
        assert (
            itself.status_code == 409
            and "You cannot remove the account you are signed in with" in itself.text
        )
        await web.container.administrators.create("bob", email=None, password="bobs password")
        assert (await http.post("/administrators/bob/remove", data={"csrf_token": token})).status_code == 303
    assert [a.username for a in await web.container.administrators.list()] == [ADMIN]
    with pytest.raises(ConflictError, match="last administrator"):
        await web.container.administrators.remove(ADMIN, acting="someone-else")


# --- Mail Server Logs: pages and CSV ----------------------------------------------------------------


async def test_logs_page_through_filter_by_date_and_export_inert_csv(web: Web, admin: None) -> None:
    from alertmail.adapters.storage.repositories import SqlMailLogRepository
    from tests.support.records import mail_log_entry

    log = SqlMailLogRepository(web.container.database.sessionmaker)
    # Inside the log retention (the daily purge drops entries older than 180 days).
    start = (datetime.now(UTC) - timedelta(days=10)).replace(hour=10, minute=0, second=0, microsecond=0)
    next_day, day_before = (start + timedelta(days=1)).date(), (start - timedelta(days=1)).date()
    for n in range(25):
        await log.add(mail_log_entry(registered_at=start + timedelta(hours=n), message=f"failure number {n}"))
    await log.add(mail_log_entry(registered_at=start - timedelta(days=3), message='=HYPERLINK("http://x")'))
    async with web.client() as http:
        await log_in(http)
        first = await http.get("/mail-settings/logs")
        assert first.text.count('class="entry"') == 20 and "failure number 24" in first.text
        assert re.search(r'href="/mail-settings/logs\?page=2"', first.text)
        second = await http.get("/mail-settings/logs", params={"page": 2})
        assert second.text.count('class="entry"') == 6
        day = await http.get("/mail-settings/logs", params={"from": str(next_day), "to": str(next_day)})
        assert day.text.count('class="entry"') == 11  # 00:00 to 10:00 on the next day
        partial = await http.get("/mail-settings/logs", params={"category": "smtp_auth"},
                                 headers={"HX-Request": "true", "HX-Target": "log-results"})  # fmt: skip
        assert "<html" not in partial.text and partial.text.count('class="entry"') == 20
        exported = await http.get("/mail-settings/logs.csv", params={"to": str(day_before)})
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    lines = exported.text.splitlines()
    assert len(lines) == 2 and "'=HYPERLINK" in lines[1]  # a spreadsheet shows it, never runs it
