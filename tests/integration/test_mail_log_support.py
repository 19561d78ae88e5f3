"""Mail Server Logs keep what support asks for (issue #14 item 5): the SMTP and enhanced codes,
Exchange Online's server, timestamp and trace ID, Microsoft's trace and correlation IDs, Google's
error description, and the settings snapshot; API, log file and the Mail Server Logs page alike."""

from __future__ import annotations

import re

from alertmail.config import AppConfig
from alertmail.domain.classification import classify
from alertmail.interfaces.api.app import create_app
from tests.integration.test_web_sessions import SETUP_TOKEN, Web, log_in
from tests.support.app import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, Api
from tests.support.diagnostics_corpus import HOST, PLAINTEXT_AUTH, CorpusCase, ScriptedRelay, failure_of

EXCHANGE_DISABLED = (
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
    "Visit https://aka.ms/smtp_auth_disabled for more information. "
    "[MN2PR05CA0004.namprd05.prod.outlook.com 2023-09-12T20:59:57.214Z 08DBB276B7E699C4]"
)


async def test_a_failed_test_email_keeps_the_exchange_trace_and_promises_no_retry(api: Api) -> None:
    async with ScriptedRelay("auth", EXCHANGE_DISABLED) as relay:
        settings = {
            "from_address": "alerts@example.com", "hostname": HOST, "port": relay.port, "encryption": "none",
            "auth_type": "basic", "username": "alerts@example.com", "password": "secret", **PLAINTEXT_AUTH,
        }  # fmt: skip
        assert (await api.client.put("/api/v1/mail-settings", json=settings)).status_code == 200
        sent = (
            await api.client.post("/api/v1/mail-settings/test-email", json={"to": "ops@example.com"})
        ).json()
    failure = sent["failure"]
    assert (failure["category"], failure["smtp_code"], failure["enhanced_code"]) == (
        "smtp_auth",
        535,
        "5.7.139",
    )
    assert "tries again" not in failure["hint"]
    [entry] = (await api.client.get("/api/v1/mail-server-logs")).json()["entries"]
    assert entry["support_details"] == {
        "server": "MN2PR05CA0004.namprd05.prod.outlook.com",
        "timestamp": "2023-09-12T20:59:57.214Z",
        "trace_id": "08DBB276B7E699C4",
    }
    assert entry["settings_snapshot"]["hostname"] == HOST
    line = api.container.config.mail_log_path.read_text().splitlines()[-1]
    assert '"trace_id":"08DBB276B7E699C4"' in line


async def test_google_and_microsoft_oauth_errors_keep_description_and_ids(app_config: AppConfig) -> None:
    google = CorpusCase(
        id="google", source="https://example.org", via="oauth_page", stage="authorize", category="oauth",
        retryable=False, details={"host": "accounts.google.com", "status": 400},
        text="<html><body><h1>Access blocked: Authorization Error</h1><p>You can't sign in because this app "
        "sent an invalid request.</p><p>Error 400: redirect_uri_mismatch</p></body></html>",
    )  # fmt: skip
    found = classify(await failure_of(google), purpose="sign_in")
    assert found.provider_code == "redirect_uri_mismatch"
    assert found.support_details["error_description"].startswith("You can't sign in because this app")
    app = create_app(app_config, setup_token=SETUP_TOKEN)
    async with app.router.lifespan_context(app):
        web = Web(app, app.state.container)
        await web.container.administrators.create(ADMIN, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        stored = await web.container.settings.current()
        await web.container.sending.record_failure(
            await failure_of(google), found, stored.settings, context="sign-in"
        )
        async with web.client() as http:
            await log_in(http)
            page = (await http.get("/mail-settings/logs")).text
            exported = (await http.get("/mail-settings/logs.csv")).text
    assert "Provider&#39;s description" in page or "Provider's description" in page
    assert re.search(r"You can(&#39;|')t sign in because this app", page)
    assert "redirect_uri_mismatch" in exported and "error_description" in exported
