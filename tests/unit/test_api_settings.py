"""Settings for E-mail Types `graph` and `gmail_api`: what they need, what presets fill, the snapshot."""

from __future__ import annotations

from typing import Any

import pytest

from alertmail.domain.settings import apply_update, public_view, settings_snapshot, validate_settings
from alertmail.domain.settings_model import MailSettings
from alertmail.domain.settings_presets import GMAIL_SEND_SCOPE, login_host
from alertmail.errors import SettingsValidationError

TENANT = "contoso.onmicrosoft.com"
SECRET = "Graph~Client.Secret-Value"
SMTP_MICROSOFT: dict[str, Any] = {
    "from_address": "alerts@contoso.com",
    "auth_type": "oauth2",
    "oauth_provider": "microsoft",
    "tenant_id": TENANT,
    "client_id": "11111111-2222-3333-4444-555555555555",
    "client_secret": SECRET,
    "username": "alerts@contoso.com",
}


def smtp_microsoft() -> MailSettings:
    return apply_update(MailSettings.unconfigured(), SMTP_MICROSOFT)


def problems(current: MailSettings, changes: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SettingsValidationError) as refused:
        apply_update(current, changes)
    return {error.field: error.message for error in refused.value.errors}


def test_switching_smtp_oauth_to_graph_keeps_tenant_client_and_secret_and_fills_graphs_preset() -> None:
    graph = apply_update(smtp_microsoft(), {"email_type": "graph", "oauth_grant": "client_credentials"})
    assert (graph.tenant_id, graph.client_id) == (TENANT, SMTP_MICROSOFT["client_id"])
    assert graph.client_secret is not None and graph.client_secret.get_secret_value() == SECRET
    assert graph.token_endpoint == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
    assert graph.scopes == "https://graph.microsoft.com/.default"
    assert (graph.hostname, graph.max_connections, graph.messages_per_minute) == ("", 4, 30)


def test_graph_scopes_follow_the_grant_and_the_endpoint_follows_the_tenant() -> None:
    app_only = apply_update(smtp_microsoft(), {"email_type": "graph", "oauth_grant": "client_credentials"})
    delegated = apply_update(app_only, {"oauth_grant": "authorization_code"})
    assert delegated.scopes == "https://graph.microsoft.com/Mail.Send offline_access"
    moved = apply_update(delegated, {"tenant_id": "fabrikam.onmicrosoft.com"})
    assert (
        moved.token_endpoint == "https://login.microsoftonline.com/fabrikam.onmicrosoft.com/oauth2/v2.0/token"
    )
    assert moved.authorization_endpoint.endswith("/fabrikam.onmicrosoft.com/oauth2/v2.0/authorize")


@pytest.mark.parametrize(
    ("graph_endpoint", "login"),
    [
        ("https://graph.microsoft.com", "https://login.microsoftonline.com"),
        ("https://graph.microsoft.us", "https://login.microsoftonline.us"),
        ("https://dod-graph.microsoft.us", "https://login.microsoftonline.us"),
        ("https://microsoftgraph.chinacloudapi.cn", "https://login.chinacloudapi.cn"),
    ],
)
def test_a_sovereign_cloud_signs_in_on_its_own_login_host(graph_endpoint: str, login: str) -> None:
    assert login_host(graph_endpoint) == login
    graph = apply_update(
        smtp_microsoft(),
        {"email_type": "graph", "oauth_grant": "client_credentials", "graph_endpoint": graph_endpoint},
    )
    assert graph.token_endpoint == f"{login}/{TENANT}/oauth2/v2.0/token"
    assert graph.scopes == f"{graph_endpoint}/.default"


def test_an_edited_token_endpoint_stays_through_later_saves() -> None:
    graph = apply_update(smtp_microsoft(), {"email_type": "graph", "oauth_grant": "client_credentials"})
    edited = apply_update(graph, {"token_endpoint": "https://login.example.net/t/oauth2/v2.0/token"})
    later = apply_update(edited, {"admin_contacts": "ops@contoso.com"})
    assert later.token_endpoint == "https://login.example.net/t/oauth2/v2.0/token"


def test_choosing_graph_chooses_oauth2_and_microsoft() -> None:
    basic = validate_settings({"from_address": "a@contoso.com", "hostname": "smtp.contoso.com"})
    graph = apply_update(
        basic,
        {
            "email_type": "graph",
            "tenant_id": TENANT,
            "client_id": "c",
            "client_secret": SECRET,
            "username": "a@contoso.com",
            "oauth_grant": "client_credentials",
        },
    )
    assert (graph.auth_type, graph.oauth_provider) == ("oauth2", "microsoft")


def test_gmail_api_fills_googles_endpoints_and_the_narrow_scope() -> None:
    gmail = apply_update(
        MailSettings.unconfigured(),
        {
            "from_address": "a@example.com",
            "email_type": "gmail_api",
            "client_id": "x.apps.googleusercontent.com",
            "username": "a@example.com",
        },
    )
    assert (gmail.auth_type, gmail.oauth_provider) == ("oauth2", "google")
    assert gmail.scopes == GMAIL_SEND_SCOPE == "https://www.googleapis.com/auth/gmail.send"
    assert gmail.token_endpoint == "https://oauth2.googleapis.com/token"
    assert gmail.gmail_endpoint == "https://gmail.googleapis.com"


def test_what_graph_needs_is_named_field_by_field() -> None:
    found = problems(
        MailSettings.unconfigured(),
        {"from_address": "a@contoso.com", "email_type": "graph", "oauth_grant": "client_credentials"},
    )
    assert found == {
        "client_id": "is required with OAuth2",
        "tenant_id": "is required for Microsoft 365",
        "username": "is required with Microsoft Graph (graph): the mailbox that sends",
        "client_secret": "is required for app-only (client_credentials) sending",
    }


def test_graph_refuses_a_password_login() -> None:
    found = problems(smtp_microsoft(), {"email_type": "graph", "auth_type": "basic", "password": "pw"})
    assert found == {
        "auth_type": "must be OAuth 2.0 (oauth2) with Microsoft Graph (graph): the API takes no password"
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "http://graph.example.com",
            "must be an https:// URL: http:// is allowed only on a loopback address",
        ),
        ("https://graph.microsoft.com/v1.0", "must be the API's base URL without a path"),
        ("graph.microsoft.com", "must be an https:// URL"),
        ("", "is required"),
    ],
)
def test_the_api_endpoints_are_https_base_urls(value: str, message: str) -> None:
    for field in ("graph_endpoint", "gmail_endpoint"):
        found = problems(smtp_microsoft(), {field: value})
        assert found[field].startswith(message)


def test_a_loopback_endpoint_may_be_http_and_a_trailing_slash_goes() -> None:
    graph = apply_update(smtp_microsoft(), {"graph_endpoint": "http://127.0.0.1:8080/"})
    assert graph.graph_endpoint == "http://127.0.0.1:8080"


def test_the_snapshot_names_endpoint_tenant_client_mailbox_and_grant_never_a_secret() -> None:
    graph = apply_update(smtp_microsoft(), {"email_type": "graph", "oauth_grant": "client_credentials"})
    snapshot = settings_snapshot(graph)
    assert snapshot["graph_endpoint"] == "https://graph.microsoft.com"
    assert (snapshot["tenant_id"], snapshot["client_id"], snapshot["username"], snapshot["oauth_grant"]) == (
        TENANT,
        SMTP_MICROSOFT["client_id"],
        "alerts@contoso.com",
        "client_credentials",
    )
    assert "hostname" not in snapshot
    assert SECRET not in repr(snapshot) and SECRET not in repr(public_view(graph))


def test_switching_smtp_to_graph_keeps_an_edited_token_endpoint_and_replaces_the_smtp_scope() -> None:
    edited = apply_update(smtp_microsoft(), {"token_endpoint": "https://login.example.net/t/token"})
    graph = apply_update(edited, {"email_type": "graph"})
    assert graph.token_endpoint == "https://login.example.net/t/token"
    assert graph.scopes == "https://graph.microsoft.com/Mail.Send offline_access"  # not SMTP.Send
