"""What each mail setting means, for `alertmail settings set --help`."""

from __future__ import annotations

from alertmail.domain.settings import FIELD_NAMES

__all__ = ["FIELD_HELP", "fields_epilog"]

FIELD_HELP = {
    "from_address": "the address automatic messages are sent from",
    "email_type": "smtp (a relay server), native (this machine's sendmail), graph (Microsoft Graph "
    "sendMail) or gmail_api (the Gmail API); graph and gmail_api choose oauth2 and its provider",
    "hostname": "the SMTP relay's host name or IP address",
    "port": "the relay's port, 1-65535 (587 for STARTTLS, 465 for TLS, 25 for none)",
    "encryption": "none, tls or starttls",
    "auth_type": "none, basic (username and password) or oauth2",
    "username": "the relay account; with OAuth2, Graph or the Gmail API, the mailbox that sends",
    "password": "the relay password (write-only; password=- reads it from standard input)",
    "oauth_provider": "microsoft, google or custom; choosing one fills its recommended values",
    "tenant_id": "Microsoft 365: the directory (tenant) ID or domain; the token endpoint follows it",
    "client_id": "the OAuth2 application (client) ID",
    "client_secret": "the OAuth2 client secret value (write-only; client_secret=- reads standard input)",
    "scopes": "OAuth2 scopes, separated by spaces",
    "authorization_endpoint": "the provider's authorization URL",
    "token_endpoint": "the provider's token URL",
    "device_authorization_endpoint": "the provider's device authorization URL, to sign in with a code "
    "(oauth sign-in --device); Microsoft: filled in beside the token URL",
    "redirect_uri": "the callback registered with the provider; empty: ALERTMAIL_PUBLIC_URL's",
    "oauth_grant": "authorization_code (sign in as the mailbox) or client_credentials (app-only: "
    "SMTP.SendAsApp over SMTP, the Application permission Mail.Send over Graph)",
    "oauth_app_testing": "true when the Google app is in Testing (its sign-ins last 7 days)",
    "admin_contacts": "addresses that receive alerts, separated by spaces",
    "daily_notice": "true to send a daily notice that alert e-mail still works",
    "daily_notice_time": "when the daily notice goes, HH:MM on a 24-hour clock (UTC)",
    "send_test_on_save": "true to send a test e-mail after every save",
    "tls_trusted_ca": "PEM certificates trusted for the relay, e.g. your own CA",
    "connect_timeout": "seconds to wait for the relay, 1-600 (default 30)",
    "max_connections": "connections to the relay at once, all nodes together, 1-20",
    "messages_per_minute": "at most this many messages a minute, all nodes together, 0 for no limit",
    "allow_plaintext_auth": "true to allow Basic authentication without TLS (default false)",
    "graph_endpoint": "Microsoft Graph's base URL: https://graph.microsoft.com (default), "
    "https://graph.microsoft.us or https://microsoftgraph.chinacloudapi.cn",
    "gmail_endpoint": "the Gmail API's base URL (default https://gmail.googleapis.com)",
    "fallback_email_type": "the fallback transport: none (default), smtp, native or graph (app-only)",
    "fallback_hostname": "the fallback SMTP relay's host name or IP address",
    "fallback_port": "the fallback relay's port, 1-65535",
    "fallback_encryption": "the fallback relay's encryption: none, tls or starttls",
    "fallback_auth_type": "the fallback relay's authentication: none or basic",
    "fallback_username": "the fallback relay account; with graph, the mailbox the fallback sends as",
    "fallback_password": "the fallback relay password (write-only; fallback_password=- reads standard input)",
    "fallback_graph_endpoint": "a Graph fallback's base URL (default https://graph.microsoft.com)",
    "fallback_tenant_id": "a Graph fallback app's directory (tenant) ID",
    "fallback_client_id": "a Graph fallback app's application (client) ID",
    "fallback_client_secret": "a Graph fallback app's client secret, app-only (client credentials) only"
    " (write-only; fallback_client_secret=- reads standard input)",
    "fallback_after_minutes": "minutes the primary fails relay-wide before the fallback is used (default 10)",
}


def fields_epilog() -> str:
    """Every field, one a line; click keeps lines after a \\b marker as they are."""
    width = max(len(name) for name in FIELD_NAMES)
    lines = [f"  {name:<{width}}  {FIELD_HELP.get(name, '')}".rstrip() for name in FIELD_NAMES]
    return "\b\nFields:\n" + "\n".join(lines)
