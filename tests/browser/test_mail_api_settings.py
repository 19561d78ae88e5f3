"""Choosing Microsoft Graph on the Mail Settings page: the fields it needs, save, verify, test e-mail.

The token endpoint and Graph are the stand-ins on loopback, on the test's own event loop."""

from __future__ import annotations

from playwright.async_api import Page, expect

from alertmail.domain import messages
from tests.support.api_settings import MAILBOX, graph_app_only, strict_tokens
from tests.support.browser import ADMIN_EMAIL, LiveApp, screenshot, sign_in
from tests.support.leaks import find_leaks, needles_for
from tests.support.mail_api_fakes import MailApiFake
from tests.support.oauth_settings import CLIENT_ID, CLIENT_SECRET, TENANT_ID
from tests.support.provider_fakes import ProviderFake
from tests.support.smtp import SmtpServerFactory


async def test_graph_is_chosen_filled_saved_verified_and_sends_a_test_email(
    page: Page, live_app: LiveApp, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    strict_tokens(provider_fake, mail_api_fake)
    provider_fake.client_secret = CLIENT_SECRET
    await sign_in(page, live_app)
    await page.get_by_label("From Address").fill(MAILBOX)
    await page.get_by_label("E-mail Type").select_option("graph")

    # Graph chooses OAuth 2.0 with Microsoft, shows the Graph Endpoint and hides the SMTP relay.
    await expect(page.get_by_label("E-mail Authentication Type")).to_have_value("oauth2")
    await expect(page.get_by_label("E-mail Provider")).to_have_value("microsoft")
    await expect(page.get_by_label("Graph Endpoint")).to_be_visible()
    await expect(page.get_by_label("Hostname (SMTP Relay Server)")).to_be_hidden()
    await expect(page.get_by_text("Microsoft Graph (when SMTP AUTH is switched off)")).to_be_visible()
    await page.get_by_label("Graph Endpoint").fill(mail_api_fake.base_url)
    await page.get_by_label("Tenant ID").fill(TENANT_ID)
    await page.get_by_label("Application (Client) ID").fill(CLIENT_ID)
    await page.locator("#f-client_secret").fill(CLIENT_SECRET)
    await page.get_by_label("Grant").select_option("client_credentials")
    await page.get_by_label("Token Endpoint").fill(provider_fake.microsoft_token())
    await page.get_by_label("Username").fill(MAILBOX)
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_text(messages.CHANGES_SAVED)).to_be_visible()
    saved = (await live_app.container.settings.current()).settings
    assert (saved.email_type, saved.oauth_grant, saved.graph_endpoint) == (
        "graph",
        "client_credentials",
        mail_api_fake.base_url,
    )
    assert saved.scopes == f"{mail_api_fake.base_url}/.default"
    await screenshot(page, "graph-settings-saved")

    await page.get_by_role("button", name="Verify OAuth2 Provider").first.click()
    await expect(page.get_by_text(messages.AUTHORIZATION_COMPLETE)).to_be_visible()
    await page.goto(live_app.url + "/mail-settings")
    await page.get_by_role("button", name="Send test e-mail").click()
    await expect(page.locator("#test-email-result")).to_contain_text(messages.test_email_sent(ADMIN_EMAIL))
    (received,) = mail_api_fake.received
    assert received.api == "graph" and received.message["To"] == ADMIN_EMAIL
    leaks = find_leaks({"settings page": await page.content()}, needles_for({"client secret": CLIENT_SECRET}))
    assert not leaks, leaks


async def test_an_smtp_oauth_configuration_switches_to_graph_keeping_tenant_client_and_secret(
    page: Page, live_app: LiveApp, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    """SMTP AUTH switched off for the tenant (535 5.7.139): the same app registration sends through
    Graph; only the E-mail Type, the Grant and the Graph Endpoint change on the page."""
    strict_tokens(provider_fake, mail_api_fake)
    provider_fake.client_secret = CLIENT_SECRET
    smtp = graph_app_only(
        provider_fake, mail_api_fake, email_type="smtp", auth_type="oauth2", hostname="smtp.office365.com"
    )
    await live_app.container.settings.save(smtp, actor="test")
    await sign_in(page, live_app)
    await expect(page.get_by_label("Hostname (SMTP Relay Server)")).to_be_visible()

    await page.get_by_label("E-mail Type").select_option("graph")
    await expect(page.get_by_label("Tenant ID")).to_have_value(TENANT_ID)
    await expect(page.get_by_label("Application (Client) ID")).to_have_value(CLIENT_ID)
    await expect(page.get_by_label("Scopes")).to_have_value(f"{mail_api_fake.base_url}/.default")
    await expect(page.get_by_label("Token Endpoint")).to_have_value(provider_fake.microsoft_token())  # kept
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_text(messages.CHANGES_SAVED)).to_be_visible()
    await page.get_by_role("button", name="Send test e-mail").click()

    await expect(page.locator("#test-email-result")).to_contain_text(messages.test_email_sent(ADMIN_EMAIL))
    saved = (await live_app.container.settings.current()).settings
    assert saved.email_type == "graph" and saved.client_secret is not None
    assert saved.client_secret.get_secret_value() == CLIENT_SECRET  # kept, never shown or retyped
    assert [mail.api for mail in mail_api_fake.received] == ["graph"]


EXCHANGE_SMTP_AUTH_OFF = (
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
    "Visit https://aka.ms/smtp_auth_disabled for more information."
)


async def test_a_5_7_139_test_email_failure_leads_to_graph_and_the_next_test_email_goes_through_it(
    page: Page,
    live_app: LiveApp,
    provider_fake: ProviderFake,
    mail_api_fake: MailApiFake,
    smtp_server_factory: SmtpServerFactory,
    tls_ca_pem: str,
) -> None:
    """Issue #15 item 5 end to end: app-only SMTP OAuth2 meets a real relay that says SMTP AUTH is
    off for the tenant; the failure's Mail Server Logs entry offers Graph, its link opens Mail
    Settings with Graph chosen (nothing saved yet), and after Save the same app registration sends
    through Graph.

    The failing test e-mail is sent with the saved settings (as `alertmail test-email` does): from
    the page, the form's SMTP Microsoft endpoints would follow the tenant to login.microsoftonline.com
    (settings_presets.py), which a test cannot reach."""
    relay = await smtp_server_factory(
        tls="starttls", auth_mechanisms=("XOAUTH2",), auth_failure_reply=EXCHANGE_SMTP_AUTH_OFF
    )
    provider_fake.client_secret = CLIENT_SECRET
    smtp = graph_app_only(
        provider_fake, mail_api_fake, email_type="smtp", auth_type="oauth2", hostname="127.0.0.1",
        port=relay.port, encryption="starttls", tls_trusted_ca=tls_ca_pem,
    )  # fmt: skip
    await live_app.container.settings.save(smtp, actor="test")
    failed = await live_app.container.test_email.send_test(to=ADMIN_EMAIL)
    assert failed.failure is not None and failed.failure.rule == "smtp_auth_disabled"
    assert "set the E-mail Type to Microsoft Graph (sendMail)" in failed.failure.hint
    assert {a.mechanism for a in relay.auth_attempts} == {"XOAUTH2"} and not relay.messages

    await sign_in(page, live_app)
    await page.goto(live_app.url + "/mail-settings/logs")
    await page.locator("tr.entry").first.get_by_role("button").click()
    await page.get_by_role("link", name="Send with Microsoft Graph instead").click()

    await expect(page.get_by_label("E-mail Type")).to_have_value("graph")
    assert (await live_app.container.settings.current()).settings.email_type == "smtp"  # not yet saved
    await expect(page.get_by_label("Grant")).to_have_value("client_credentials")
    await expect(page.get_by_label("Tenant ID")).to_have_value(TENANT_ID)
    await expect(page.get_by_label("Application (Client) ID")).to_have_value(CLIENT_ID)
    await expect(page.get_by_label("Graph Endpoint")).to_have_value(mail_api_fake.base_url)
    await expect(page.get_by_label("Hostname (SMTP Relay Server)")).to_be_hidden()
    await screenshot(page, "smtp-auth-off-switched-to-graph")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_text(messages.CHANGES_SAVED)).to_be_visible()
    await page.get_by_role("button", name="Send test e-mail").click()

    await expect(page.locator("#test-email-result")).to_contain_text(messages.test_email_sent(ADMIN_EMAIL))
    saved = (await live_app.container.settings.current()).settings
    assert saved.email_type == "graph" and saved.client_secret is not None
    assert saved.client_secret.get_secret_value() == CLIENT_SECRET  # kept, never shown or retyped
    assert [(mail.api, mail.mailbox) for mail in mail_api_fake.received] == [("graph", MAILBOX)]
    assert not relay.messages
