"""The Mail Settings page with E-mail Types Microsoft Graph and Gmail API: choices, fields, save."""

from __future__ import annotations

import re

from alertmail.domain import messages
from tests.integration.test_web_sessions import Web, admin, log_in, page_token, web
from tests.support.api_settings import graph_app_only
from tests.support.mail_api_fakes import MailApiFake
from tests.support.provider_fakes import ProviderFake

__all__ = ["admin", "web"]

SECRET = "Web-Graph-Secret-4c1d"
GRAPH_FORM = {
    "from_address": "alerts@contoso.com",
    "email_type": "graph",
    "auth_type": "oauth2",
    "oauth_provider": "microsoft",
    "oauth_grant": "client_credentials",
    "tenant_id": "contoso.onmicrosoft.com",
    "client_id": "11111111-2222-3333-4444-555555555555",
    "client_secret": SECRET,
    "username": "alerts@contoso.com",
    "graph_endpoint": "https://graph.microsoft.us",
}


async def test_the_page_offers_graph_and_gmail_with_labelled_endpoints(web: Web, admin: None) -> None:
    async with web.client() as http:
        await log_in(http)
        page = (await http.get("/mail-settings")).text
    assert '<option value="graph"' in page and '<option value="gmail_api"' in page
    for name, label in (("graph_endpoint", "Graph Endpoint"), ("gmail_endpoint", "Gmail Endpoint")):
        assert f'<label for="f-{name}">{label}</label>' in page
        assert f'aria-describedby="f-{name}-hint"' in page
    assert 'data-guide="graph"' in page and "RBAC for Applications" in page
    assert 'data-guide="gmail_api"' in page and "auth/gmail.send" in page


async def test_saving_graph_from_the_form_fills_the_clouds_token_endpoint(web: Web, admin: None) -> None:
    async with web.client() as http:
        await log_in(http)
        token = await page_token(http)
        saved = await http.post("/mail-settings", data=GRAPH_FORM | {"csrf_token": token})
        assert saved.status_code == 303, saved.text
        page = (await http.get("/mail-settings")).text
    assert messages.CHANGES_SAVED in page
    assert re.search(r'<option value="graph"[^>]*selected', page)
    assert 'value="https://graph.microsoft.us"' in page
    assert "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token" in page
    assert 'value="https://graph.microsoft.us/.default"' in page
    assert SECRET not in page
    hostname = re.search(r'<div class="grid-3"[^>]*data-show-email="smtp"[^>]*>', page)
    assert hostname is not None and " hidden" in hostname.group(0)  # no SMTP relay for Graph


async def test_a_refused_graph_save_names_the_field_on_the_form(web: Web, admin: None) -> None:
    async with web.client() as http:
        await log_in(http)
        token = await page_token(http)
        form = GRAPH_FORM | {"graph_endpoint": "http://graph.example.com", "csrf_token": token}
        refused = await http.post("/mail-settings", data=form)
    assert refused.status_code == 422
    assert '<a href="#f-graph_endpoint">Graph Endpoint</a> must be an https:// URL' in refused.text
    assert SECRET not in refused.text


async def test_mail_server_logs_show_graphs_request_id_and_date_for_support(
    web: Web, admin: None, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    await web.container.settings.save(graph_app_only(provider_fake, mail_api_fake), actor="test")
    mail_api_fake.fail_always("MailboxNotEnabledForRESTAPI")
    assert not (await web.container.test_email.send_test(to="ops@example.com")).sent
    (entry,) = await web.container.mail_logs.list(limit=1)

    async with web.client() as http:
        await log_in(http)
        page = (await http.get("/mail-settings/logs")).text

    assert "MailboxNotEnabledForRESTAPI" in page and "Exchange Online license" in page
    assert "<dt>Request ID</dt>" in page and entry.support_details["request_id"] in page
    assert "<dt>Provider date</dt>" in page and entry.support_details["date"] in page
