"""The Mail Settings form: the text each field shows, and the change a submitted form asks for.

A submitted form becomes a partial update holding only the fields whose text differs from what the
form showed. So a field left alone never overrides a provider preset, and Microsoft's endpoints keep
following the Tenant ID; an empty secret field keeps the stored secret, as everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alertmail.domain.fallback import FALLBACK_EMAIL_TYPES
from alertmail.domain.settings import MailSettings
from alertmail.errors import FieldError

__all__ = [
    "CHECKBOXES",
    "FALLBACK_TYPE_OPTIONS",
    "LABELS",
    "changes_from_form",
    "field_errors",
    "form_values",
    "human_errors",
    "submitted_values",
]

TEXT_FIELDS = (
    "from_address",
    "hostname",
    "port",
    "username",
    "tenant_id",
    "client_id",
    "scopes",
    "authorization_endpoint",
    "token_endpoint",
    "device_authorization_endpoint",
    "redirect_uri",
    "admin_contacts",
    "daily_notice_time",
    "tls_trusted_ca",
    "connect_timeout",
    "max_connections",
    "messages_per_minute",
    "graph_endpoint",
    "gmail_endpoint",
    "fallback_hostname",
    "fallback_port",
    "fallback_username",
    "fallback_graph_endpoint",
    "fallback_tenant_id",
    "fallback_client_id",
    "fallback_after_minutes",
)
CHOICES = (
    "auth_type",
    "email_type",
    "encryption",
    "oauth_provider",
    "oauth_grant",
    "fallback_email_type",
    "fallback_encryption",
    "fallback_auth_type",
)
CHECKBOXES = ("daily_notice", "send_test_on_save", "oauth_app_testing", "allow_plaintext_auth")
SECRETS = ("password", "client_secret", "fallback_password", "fallback_client_secret")
# The form's words for each field, for the error summary above it.
LABELS = {
    "from_address": "From Address",
    "auth_type": "E-mail Authentication Type",
    "email_type": "E-mail Type",
    "oauth_provider": "E-mail Provider",
    "hostname": "Hostname (SMTP Relay Server)",
    "port": "SMTP Port",
    "encryption": "SMTP Encryption",
    "username": "Username",
    "password": "Password",
    "tenant_id": "Tenant ID",
    "client_id": "Application (Client) ID",
    "client_secret": "Client Secret Value",
    "scopes": "Scopes",
    "authorization_endpoint": "Authentication Endpoint",
    "token_endpoint": "Token Endpoint",
    "device_authorization_endpoint": "Device Authorization Endpoint",
    "redirect_uri": "Redirect URI",
    "oauth_grant": "Grant",
    "oauth_app_testing": "Google app in Testing",
    "admin_contacts": "Default Admin Contact Email Addresses",
    "daily_notice": "Send Daily Communication Notice",
    "daily_notice_time": "Time of the daily notice",
    "send_test_on_save": "Send a test email when the settings are saved",
    "connect_timeout": "Connect timeout",
    "max_connections": "Connections at once",
    "messages_per_minute": "Messages per minute",
    "tls_trusted_ca": "Trusted CA certificates",
    "to": "Send to",
    "test_to": "Send to",
    "email": "E-mail",
    "allow_plaintext_auth": "Allow the password to be sent without encryption",
    "graph_endpoint": "Graph Endpoint",
    "gmail_endpoint": "Gmail Endpoint",
    "fallback_email_type": "Fallback transport",
    "fallback_hostname": "Fallback relay host",
    "fallback_port": "Fallback relay port",
    "fallback_encryption": "Fallback relay encryption",
    "fallback_auth_type": "Fallback relay login",
    "fallback_username": "Fallback relay account",
    "fallback_password": "Fallback relay passphrase",
    "fallback_graph_endpoint": "Fallback Graph base URL",
    "fallback_tenant_id": "Fallback directory (tenant)",
    "fallback_client_id": "Fallback application (client)",
    "fallback_client_secret": "Fallback app secret",
    "fallback_after_minutes": "Use the fallback after (minutes)",
}
# The Fallback E-mail Type's choices, from the one list of fallback types (domain/fallback.py).
_FALLBACK_TYPE_WORDS = {
    "none": "None (no fallback)",
    "smtp": "SMTP (a relay server)",
    "native": "Native (this machine's sendmail)",
    "graph": "Microsoft Graph",
}
FALLBACK_TYPE_OPTIONS = [(kind, _FALLBACK_TYPE_WORDS.get(kind, kind)) for kind in FALLBACK_EMAIL_TYPES]
# Which fields the form shows, by what they depend on; a hidden field's text is never taken.
_OAUTH_ONLY = (
    "oauth_provider",
    "tenant_id",
    "client_id",
    "client_secret",
    "scopes",
    "authorization_endpoint",
    "token_endpoint",
    "device_authorization_endpoint",
    "redirect_uri",
    "oauth_grant",
    "oauth_app_testing",
)
_SMTP_ONLY = ("hostname", "port", "encryption", "username", "password", "allow_plaintext_auth")


def form_values(settings: MailSettings) -> dict[str, Any]:
    """What each field shows for these settings; secrets only as whether one is set."""
    values: dict[str, Any] = {name: str(getattr(settings, name)) for name in TEXT_FIELDS + CHOICES}
    values["admin_contacts"] = " ".join(settings.admin_contacts)
    values["connect_timeout"] = f"{settings.connect_timeout:g}"
    values["oauth_provider"] = settings.oauth_provider or ""
    values |= {name: bool(getattr(settings, name)) for name in CHECKBOXES}
    for name in SECRETS:
        secret = getattr(settings, name)
        values[f"{name}_set"] = secret is not None and bool(secret.get_secret_value())
    return values


def _text(form: Mapping[str, str], name: str) -> str:
    if name == "tls_trusted_ca":  # PEM: lines kept, browsers send CRLF
        return form[name].replace("\r\n", "\n").strip()
    return form[name].strip()


def hidden_fields(form: Mapping[str, str], stored: MailSettings) -> set[str]:
    """The fields the form hides for the authentication type, provider and e-mail type it shows."""
    auth = form.get("auth_type", stored.auth_type)
    email = form.get("email_type", stored.email_type)
    provider = form.get("oauth_provider", stored.oauth_provider or "")
    hidden: set[str] = set()
    if auth != "oauth2":
        hidden |= set(_OAUTH_ONLY)
    if auth != "basic":
        hidden.add("allow_plaintext_auth")  # shown with Basic over SMTP only
    if auth == "none":
        hidden |= {"username", "password"}
    if auth == "oauth2":
        hidden.add("password")
    if email != "smtp":
        hidden |= set(_SMTP_ONLY) - ({"username"} if email in ("graph", "gmail_api") else set())
    if email != "graph":
        hidden.add("graph_endpoint")
    if email != "gmail_api":
        hidden.add("gmail_endpoint")
    if provider != "microsoft":
        hidden.add("tenant_id")
    if provider != "google":
        hidden.add("oauth_app_testing")
    return hidden


def changes_from_form(form: Mapping[str, str], stored: MailSettings) -> dict[str, Any]:
    """The partial update the form asks for: changed, visible fields only."""
    shown = form_values(stored)
    hidden = hidden_fields(form, stored)
    changes: dict[str, Any] = {}
    for name in TEXT_FIELDS + CHOICES:
        if name in form and name not in hidden and _text(form, name) != shown[name]:
            changes[name] = _text(form, name)
    for name in CHECKBOXES:
        if name not in hidden and (name in form) != shown[name]:
            changes[name] = name in form
    changes |= {name: form[name] for name in SECRETS if form.get(name) and name not in hidden}
    if changes.get("oauth_provider") == "":
        changes["oauth_provider"] = None
    if form.get("auth_type", stored.auth_type) == "oauth2":
        if form.get("email_type", stored.email_type) == "native":
            changes["email_type"] = "smtp"  # the local sendmail takes no OAuth: OAuth2 over SMTP
        if "tenant_id" in hidden and stored.tenant_id:
            changes["tenant_id"] = ""  # only Microsoft has one: never kept for another provider
    return changes


def submitted_values(form: Mapping[str, str], stored: MailSettings) -> dict[str, Any]:
    """The field texts to show again after a refused save: what was typed, never a secret."""
    values = form_values(stored)
    for name in TEXT_FIELDS + CHOICES:
        if name in form:
            values[name] = _text(form, name)
    values |= {name: name in form for name in CHECKBOXES}
    return values


def human_errors(errors: list[FieldError]) -> str:
    """Every error in one sentence, each under the name the form gives its field."""
    return "; ".join(f"{LABELS.get(e.field.split('[', 1)[0], e.field)} {e.message}" for e in errors) + "."


def field_errors(errors: list[FieldError]) -> dict[str, str]:
    """One message per form field; `admin_contacts[1]` belongs to the `admin_contacts` field."""
    found: dict[str, str] = {}
    for error in errors:
        field = error.field.split("[", 1)[0]
        found[field] = f"{found[field]}; {error.message}" if field in found else error.message
    return found
