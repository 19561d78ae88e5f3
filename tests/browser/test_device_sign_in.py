"""Sign in with a code from Mail Settings in Chromium, against the local authorization server
(oidc-provider's device flow): the button beside Sign In, the code and the address with the code
in it as a link, the status polled by htmx until the sign-in completes (approved on a second page,
the administrator's phone, through the server's own device pages), a send over XOAUTH2; and Cancel."""

from __future__ import annotations

from playwright.async_api import Page, expect

from alertmail.domain import messages
from alertmail.services.oauth_device_signin import CANCELLED
from tests.support.browser import ADMIN, ADMIN_EMAIL, LiveApp, screenshot, sign_in
from tests.support.leaks import find_leaks, needles_for
from tests.support.oauth_server import LOGIN, DeviceOptions, OAuthClientRegistration, OAuthServer, relay_for
from tests.support.oauth_settings import REDIRECT_URI, device_settings
from tests.support.smtp import SmtpServerFactory, SmtpSink


async def configured(
    live_app: LiveApp, server: OAuthServer, factory: SmtpServerFactory, pem: str
) -> tuple[OAuthClientRegistration, SmtpSink]:
    client = await server.register_client([REDIRECT_URI], device=DeviceOptions(poll_interval=1))
    sink, _ = await relay_for(factory, server)
    await live_app.container.settings.save(device_settings(server, client, sink, pem), actor=ADMIN)
    return client, sink


async def approve_on_the_phone(page: Page, link: str) -> None:
    """The provider's device pages in another tab: the code is in the link; confirm, sign in, consent."""
    phone = await page.context.new_page()
    await phone.goto(link)  # a page that posts the code on by itself
    await phone.get_by_role("button", name="Continue").click()  # "the code shown on your device"
    await phone.locator("input[name=login]").fill(LOGIN)
    await phone.locator("input[name=password]").fill("any password")
    await phone.locator("button[type=submit]").click()
    await phone.locator("button[type=submit]").click()  # consent
    await expect(phone.get_by_text("Sign-in Success")).to_be_visible()
    await phone.close()


async def test_sign_in_with_a_code_completes_while_the_page_watches(
    page: Page,
    live_app: LiveApp,
    oauth_server: OAuthServer,
    smtp_server_factory: SmtpServerFactory,
    tls_ca_pem: str,
) -> None:
    client, sink = await configured(live_app, oauth_server, smtp_server_factory, tls_ca_pem)
    await sign_in(page, live_app)
    await expect(page.locator("#device-sign-in-hint")).to_contain_text("Allow public client flows")
    await page.get_by_role("button", name="Sign in with a code").click()

    await expect(page).to_have_url(live_app.url + "/mail-settings/oauth/device")
    code = await page.locator("#device-code").inner_text()
    link = page.locator("#device-link")
    await expect(link).to_have_attribute("href", f"{oauth_server.issuer}/device?user_code={code}")
    await expect(page.locator("#device-state")).to_contain_text("Waiting for the sign-in")
    await screenshot(page, "device-sign-in-waiting")
    pages = {"waiting": await page.content()}

    await approve_on_the_phone(page, str(await link.get_attribute("href")))

    # htmx asks every 2 seconds; no reload.
    await expect(page.locator("#outcome-message")).to_have_text(
        messages.AUTHORIZATION_COMPLETE, timeout=20_000
    )
    await expect(page.locator("#device-state")).to_contain_text(f"Signed in as {LOGIN}")
    await expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    await screenshot(page, "device-sign-in-complete")
    pages["complete"] = await page.content()

    await page.get_by_role("link", name="Back to Mail Settings").click()
    await expect(page.get_by_role("region", name="OAuth token health")).to_contain_text(LOGIN)
    await page.get_by_role("button", name="Send test e-mail").click()
    await expect(page.locator("#test-email-result")).to_contain_text(messages.test_email_sent(ADMIN_EMAIL))
    assert [m.authenticated_as for m in sink.messages] == [LOGIN]
    tokens = await live_app.container.oauth_tokens.status(
        (await live_app.container.settings.current()).settings
    )
    assert tokens.account == LOGIN
    assert find_leaks(pages, needles_for({"client secret": client.client_secret}, username=LOGIN)) == []


async def test_cancel_stops_the_sign_in(
    page: Page,
    live_app: LiveApp,
    oauth_server: OAuthServer,
    smtp_server_factory: SmtpServerFactory,
    tls_ca_pem: str,
) -> None:
    await configured(live_app, oauth_server, smtp_server_factory, tls_ca_pem)
    await sign_in(page, live_app)
    device = live_app.container.oauth_device_sign_in
    # Without the session's CSRF token (another site's form), nothing starts and nothing stops.
    forged = await page.request.post(live_app.url + "/mail-settings/oauth/device", form={"csrf_token": "x"})
    assert forged.status == 403 and await device.current() is None
    await page.get_by_role("button", name="Sign in with a code").click()
    await expect(page.locator("#device-state")).to_contain_text("Waiting for the sign-in")
    forged = await page.request.post(live_app.url + "/mail-settings/oauth/device/cancel", form={})
    assert forged.status == 403 and (await device.current()).status == "pending"  # type: ignore[union-attr]

    await page.get_by_role("button", name="Cancel").click()

    await expect(page.locator("#device-state")).to_have_text(CANCELLED)
    await expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    current = await device.current()
    assert current is not None and current.status == "cancelled"
    await screenshot(page, "device-sign-in-cancelled")


async def test_the_form_fills_microsofts_device_endpoint_and_keeps_a_sovereign_login_host(
    page: Page, live_app: LiveApp
) -> None:
    await sign_in(page, live_app)
    await page.get_by_label("E-mail Authentication Type").select_option("oauth2")
    await page.get_by_label("E-mail Provider").select_option("microsoft")
    await page.get_by_label("Tenant ID").fill("contoso.onmicrosoft.com")
    await page.get_by_label("Tenant ID").dispatch_event("input")
    device = page.get_by_label("Device Authorization Endpoint")
    await expect(device).to_have_value(
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode"
    )
    await expect(page.get_by_role("button", name="Sign in with a code")).to_be_visible()

    # US Government cloud: the token endpoint moved to its login host; a new tenant keeps that host.
    await page.get_by_label("Token Endpoint").fill(
        "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token"
    )
    await page.get_by_label("Tenant ID").fill("fabrikam.onmicrosoft.us")
    await page.get_by_label("Tenant ID").dispatch_event("input")
    await expect(device).to_have_value(
        "https://login.microsoftonline.us/fabrikam.onmicrosoft.us/oauth2/v2.0/devicecode"
    )

    await page.get_by_label("E-mail Provider").select_option("google")
    await expect(page.get_by_role("button", name="Sign in with a code")).to_be_hidden()
    await expect(page.locator("#device-sign-in-google")).to_contain_text("does not allow Gmail scopes")
