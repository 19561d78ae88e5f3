"""Verify from the Mail Settings page (issue #15 item 4), and the 5.7.139 hint with its Microsoft
Graph guide (item 5), in Chromium against the live app."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from alertmail.domain import messages
from tests.support.app import ADMIN
from tests.support.browser import LiveApp, screenshot, sign_in
from tests.support.diagnostics_corpus import HOST, PLAINTEXT_AUTH, ScriptedRelay
from tests.support.oauth_settings import microsoft_settings
from tests.support.provider_fakes import ProviderFake
from tests.support.smtp import SmtpSink

EXCHANGE_SMTP_AUTH_OFF = (
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
    "Visit https://aka.ms/smtp_auth_disabled for more information."
)


async def test_verify_reports_a_missing_smtp_send_before_anything_is_sent(
    page: Page, live_app: LiveApp, provider_fake: ProviderFake, smtp_server: SmtpSink
) -> None:
    provider_fake.jwt_access_tokens = True
    provider_fake.consented_permissions = ["IMAP.AccessAsUser.All"]  # SMTP.Send never consented
    redirect = live_app.url + "/login/smtp-verification"
    changes = microsoft_settings(provider_fake, sink=smtp_server, redirect_uri=redirect)
    await live_app.container.settings.save(changes, actor=ADMIN)
    await sign_in(page, live_app)
    await page.goto(live_app.url + "/mail-settings")
    await (
        page.get_by_role("region", name="E-mail Authorization Required")
        .get_by_role("button", name="Sign In")
        .click()
    )
    await expect(page.locator("#outcome-message")).to_have_text(messages.AUTHORIZATION_COMPLETE)
    await page.get_by_role("link", name="Back to Mail Settings").click()

    verify = page.get_by_role("button", name="Verify", exact=True)
    await expect(verify).to_be_visible()
    await verify.click()

    notices = page.locator("#notices")
    await expect(notices).to_contain_text(messages.AUTHORIZATION_FAILED)
    await expect(notices).to_contain_text("lacks the Delegated permission SMTP.Send (in scp)")
    await expect(notices).to_contain_text("Microsoft Graph > Delegated permissions > SMTP.Send")
    await expect(notices.get_by_role("link", name="See it in Mail Server Logs")).to_be_visible()
    await screenshot(page, "oauth-verify-missing-permission")
    assert smtp_server.connections == 0 and not smtp_server.messages

    # A refresh shows the page again without verifying again (Post/Redirect/Get)...
    await page.reload()
    await expect(notices).not_to_contain_text(messages.AUTHORIZATION_FAILED)
    # ...and a Verify without the form's CSRF token is refused.
    forged = await page.request.post(
        live_app.url + "/mail-settings/oauth/verify", form={"csrf_token": "forged"}
    )
    assert forged.status == 403


async def test_verify_passes_once_the_permission_is_consented(
    page: Page, live_app: LiveApp, provider_fake: ProviderFake
) -> None:
    provider_fake.jwt_access_tokens = True
    provider_fake.app_roles = ["SMTP.SendAsApp"]
    changes = microsoft_settings(provider_fake, oauth_grant="client_credentials")
    await live_app.container.settings.save(changes, actor=ADMIN)
    await sign_in(page, live_app)
    await page.goto(live_app.url + "/mail-settings")

    # App-only has no sign-in: its one button verifies.
    await page.get_by_role("button", name="Verify OAuth2 Provider").first.click()

    await expect(page.locator("#notices")).to_contain_text(messages.AUTHORIZATION_COMPLETE)
    await expect(page.get_by_role("button", name="Verify", exact=True)).to_have_count(0)


async def test_smtp_auth_off_offers_microsoft_graph_and_its_guide(page: Page, live_app: LiveApp) -> None:
    async with ScriptedRelay("auth", EXCHANGE_SMTP_AUTH_OFF) as relay:
        changes = {
            "from_address": "alerts@contoso.com", "hostname": HOST, "port": relay.port, "encryption": "none",
            "auth_type": "basic", "username": "alerts@contoso.com", "password": "secret", **PLAINTEXT_AUTH,
        }  # fmt: skip
        await live_app.container.settings.save(changes, actor=ADMIN)
        await sign_in(page, live_app)
        await page.goto(live_app.url + "/mail-settings")
        await page.get_by_role("button", name="Send test e-mail").click()

        result = page.locator("#test-email-result")
        await expect(result).to_contain_text(messages.TEST_EMAIL_FAILED)
    await expect(result).to_contain_text("OAuth2 included")
    await expect(result).to_contain_text("set the E-mail Type to Microsoft Graph (sendMail)")
    await expect(result).to_contain_text("Mail Settings > Sending with Microsoft Graph")
    switch = result.get_by_role("link", name="Send with Microsoft Graph instead")
    await expect(switch).to_have_attribute("href", "/mail-settings?email_type=graph#f-email_type")

    guide = page.locator("#graph-guide")
    await guide.get_by_text("Sending with Microsoft Graph").click()
    await expect(guide).to_contain_text(
        re.compile(r"API permissions › Add a permission › Microsoft Graph › Application permissions")
    )
    await expect(guide).to_contain_text("Grant admin consent")
    await expect(guide).to_contain_text("RBAC for Applications")
    await expect(guide).to_contain_text("Application access policies")
    await screenshot(page, "smtp-auth-disabled-graph-guide")
