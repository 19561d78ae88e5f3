"""Forwarded headers count only from the proxies named in ALERTMAIL_TRUSTED_PROXIES (#13 item 4).

Against a real `alertmail serve`: uvicorn, not the app, reads X-Forwarded-For and -Proto, and it
trusted 127.0.0.1 by default, so a guesser on the box could vary the header for unlimited tries.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.app import ADMIN, ADMIN_PASSWORD
from tests.support.served import Served, served_alertmail

ATTEMPTS = 20
ALLOWED_FAILURES = 5


async def _sign_in(http: httpx.AsyncClient, password: str, headers: dict[str, str]) -> httpx.Response:
    form_page = await http.get("/login")
    token = form_page.cookies.get("alertmail_form") or http.cookies.get("alertmail_form")
    assert token, "the login page sets its form cookie"
    form = {"username": ADMIN, "password": password, "csrf_token": token, "next": ""}
    return await http.post("/login", data=form, headers=headers)


def _client(served: Served) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=served.base_url, trust_env=False, timeout=30)


async def test_varying_x_forwarded_for_does_not_escape_the_login_throttle(tmp_path: Path) -> None:
    async with served_alertmail(tmp_path) as served, _client(served) as http:
        statuses = []
        for attempt in range(ATTEMPTS):
            spoofed = {"X-Forwarded-For": f"203.0.113.{attempt + 1}"}
            statuses.append((await _sign_in(http, "wrong password", spoofed)).status_code)
        right = await _sign_in(http, ADMIN_PASSWORD, {"X-Forwarded-For": "198.51.100.7"})
    assert statuses[:ALLOWED_FAILURES] == [401] * ALLOWED_FAILURES
    assert statuses[ALLOWED_FAILURES:] == [429] * (ATTEMPTS - ALLOWED_FAILURES)
    assert right.status_code == 429, "even the right password waits while the client is throttled"


async def test_untrusted_x_forwarded_proto_does_not_make_the_cookie_secure(tmp_path: Path) -> None:
    async with served_alertmail(tmp_path) as served, _client(served) as http:
        answer = await _sign_in(http, ADMIN_PASSWORD, {"X-Forwarded-Proto": "https"})
    assert answer.status_code == 303
    assert "secure" not in answer.headers["set-cookie"].lower()


async def test_a_trusted_proxy_names_the_client_and_the_scheme(tmp_path: Path) -> None:
    async with served_alertmail(tmp_path, trusted_proxies="127.0.0.1") as served, _client(served) as http:
        for _ in range(ALLOWED_FAILURES):
            refused = await _sign_in(http, "wrong", {"X-Forwarded-For": "203.0.113.1"})
            assert refused.status_code == 401
        throttled = await _sign_in(http, "wrong", {"X-Forwarded-For": "203.0.113.1"})
        # Another client behind the same proxy is a different client.
        other = await _sign_in(
            http, ADMIN_PASSWORD, {"X-Forwarded-For": "203.0.113.2", "X-Forwarded-Proto": "https"}
        )
    assert throttled.status_code == 429
    assert other.status_code == 303
    assert "secure" in other.headers["set-cookie"].lower()
