"""Seed 004's two missing points in the browser (issue #17, item 9): a node that is not the primary
says its e-mail configuration is the primary's and names that node; Google's client JSON fills the
OAuth fields and is checked for this server's Redirect URI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from alertmail.adapters.storage.node_repository import SqlNodeRepository
from alertmail.config import AppConfig
from alertmail.domain import messages
from alertmail.domain.ports import ClusterNode
from tests.support.browser import LiveApp, screenshot, sign_in

PRIMARY = "node-a"


@pytest.fixture
def app_config(tmp_path: Path) -> AppConfig:
    # A traffic node never becomes the primary: its page must say whose configuration it uses.
    return AppConfig(data_dir=tmp_path / "data", node_name="traffic-1", node_role="traffic")


def google_file(redirect_uris: list[str]) -> str:
    """The shape of the file Google Cloud offers (values made up)."""
    return json.dumps(
        {
            "web": {
                "client_id": "1234-abc.apps.googleusercontent.com",
                "project_id": "appliance-mail",
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": "https://oauth2.googleapis.com/token",
                "client_secret": "GOCSPX-made-up",
                "redirect_uris": redirect_uris,
            }
        }
    )


async def test_a_node_that_is_not_the_primary_names_the_configuration_in_force(
    page: Page, live_app: LiveApp
) -> None:
    now = datetime.now(UTC)
    primary = ClusterNode(
        PRIMARY, "node-a.corp.local", "", "1.0.0", "primary-capable", now, now, is_primary=True
    )
    await SqlNodeRepository(live_app.container.database.sessionmaker).register(
        primary, instance_id=primary.node_id, live_since=None
    )
    await sign_in(page, live_app)
    notice = page.locator("#configuration-in-force")
    await expect(notice).to_contain_text("traffic-1")
    await expect(notice).to_contain_text("overwritten with the one defined on the primary")
    await expect(notice).to_contain_text(f"{PRIMARY} (node-a.corp.local)")
    await screenshot(page, "admin-path-9-non-primary-notice")


async def test_google_client_json_fills_the_fields_and_checks_the_redirect_uri(
    page: Page, live_app: LiveApp, tmp_path: Path
) -> None:
    here = live_app.url + "/login/smtp-verification"
    await sign_in(page, live_app)
    await page.get_by_label("From Address").fill("alerts@corp.local")
    await page.get_by_label("E-mail Authentication Type").select_option("oauth2")
    await page.get_by_label("E-mail Provider").select_option("google")
    await page.get_by_label("Username").fill("alerts@corp.local")
    await page.locator("#google-import > summary").click()

    elsewhere = tmp_path / "other.json"
    elsewhere.write_text(google_file(["https://elsewhere.example.com/callback"]))
    await page.get_by_label("Client JSON file").set_input_files(str(elsewhere))
    await page.get_by_role("button", name="Fill from the JSON").click()
    result = page.locator("#google-client-result")
    await expect(result).to_contain_text("do not include this server's")
    await expect(result).to_contain_text(here)
    await screenshot(page, "admin-path-9-google-json-redirect-missing")

    await page.get_by_label("Client JSON file").set_input_files([])
    await page.get_by_label("…or paste its contents").fill(google_file([here]))
    await page.get_by_role("button", name="Fill from the JSON").click()
    await expect(result).to_contain_text("is registered")
    await expect(page.get_by_label("Application (Client) ID")).to_have_value(
        "1234-abc.apps.googleusercontent.com"
    )
    await expect(page.get_by_label("Authentication Endpoint")).to_have_value(
        "https://accounts.google.com/o/oauth2/auth"
    )
    await screenshot(page, "admin-path-9-google-json-filled")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_text(messages.CHANGES_SAVED)).to_be_visible()
    stored = (await live_app.container.settings.current()).settings
    assert stored.client_id == "1234-abc.apps.googleusercontent.com"
    assert stored.client_secret is not None and stored.client_secret.get_secret_value() == "GOCSPX-made-up"
    assert stored.token_endpoint == "https://oauth2.googleapis.com/token"
    assert "GOCSPX-made-up" not in await page.content()
