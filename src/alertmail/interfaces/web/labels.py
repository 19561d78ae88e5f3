"""The words a person reads for alertmail's codes: categories and settings values. The API and the
CSV keep the codes; the pages show these, with the code beside a category for searching."""

from __future__ import annotations

from typing import Any

__all__ = ["category_label", "setting_value"]

CATEGORY_LABELS = {
    "dns": "Host name not found",
    "connect_timeout": "Connection timed out",
    "connect_refused": "Connection refused",
    "tls_handshake": "TLS handshake failed",
    "tls_unavailable": "TLS not offered",
    "smtp_auth": "Authentication failed",
    "smtp_recipient": "Recipient refused",
    "smtp_throttled": "Relay is throttling",
    "smtp_policy": "Refused by policy",
    "smtp_other": "Other SMTP reply",
    "oauth": "OAuth error",
    "oauth_reauth": "Sign-in required again",
    "native": "Local sendmail failed",
    "graph": "Microsoft Graph refused",
    "gmail_api": "Gmail API refused",
    "internal": "Internal error",
    "fallback": "Fallback transport",
}
_VALUES = {
    "email_type": {"smtp": "SMTP", "native": "Native", "graph": "Microsoft Graph", "gmail_api": "Gmail API"},
    "auth_type": {"none": "None", "basic": "Basic", "oauth2": "OAuth"},
    "encryption": {"none": "None", "tls": "TLS", "starttls": "STARTTLS"},
    "oauth_provider": {"microsoft": "Microsoft 365", "google": "Google", "custom": "Custom"},
    "oauth_grant": {"authorization_code": "Delegated (sign in)", "client_credentials": "App-only"},
    "transport": {"primary": "Primary", "fallback": "Fallback"},
}


def category_label(category: str) -> str:
    return CATEGORY_LABELS.get(category, category.replace("_", " ").capitalize())


def setting_value(name: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    return _VALUES.get(name, {}).get(str(value), str(value))
