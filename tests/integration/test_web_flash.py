"""Post/Redirect/Get's notices ride in a cookie signed for one session: shown once, never forged."""

from __future__ import annotations

import base64
import json

from alertmail.domain import messages
from alertmail.interfaces.web.flash import FLASH_COOKIE
from tests.integration.test_web_sessions import Web, admin, log_in, page_token, web

__all__ = ["admin", "web"]

CHANGE = {"from_address": "alerts@corp.local", "email_type": "native"}


async def test_a_saved_form_redirects_and_its_notice_is_shown_once(web: Web, admin: None) -> None:
    async with web.client() as http:
        await log_in(http)
        token = await page_token(http)
        saved = await http.post("/mail-settings", data=CHANGE | {"csrf_token": token})
        assert (saved.status_code, saved.headers["location"]) == (303, "/mail-settings")
        first = await http.get("/mail-settings")
        assert messages.CHANGES_SAVED in first.text
        second = await http.get("/mail-settings")  # the refresh: a GET, and the notice is gone
        assert messages.CHANGES_SAVED not in second.text
    assert (await web.container.settings.current()).version == 1


async def test_a_forged_or_foreign_flash_cookie_puts_nothing_on_the_page(web: Web, admin: None) -> None:
    forged = base64.urlsafe_b64encode(json.dumps([{"ok": True, "text": "Forged words"}]).encode()).decode()
    async with web.client() as http:
        await log_in(http)
        token = await page_token(http)
        await http.post("/mail-settings", data=CHANGE | {"csrf_token": token})
        genuine = http.cookies[FLASH_COOKIE]
        for value in (f"{forged}.0000", f"{forged}.{genuine.partition('.')[2]}", "not even a cookie"):
            http.cookies.set(FLASH_COOKIE, value)
            page = await http.get("/mail-settings")
            assert page.status_code == 200 and "Forged words" not in page.text
    async with web.client() as other:  # another session cannot read or replay this one's notice
        await log_in(other)
        other.cookies.set(FLASH_COOKIE, genuine)
        assert messages.CHANGES_SAVED not in (await other.get("/mail-settings")).text
