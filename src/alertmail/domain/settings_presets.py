"""What choosing a provider (and an E-mail Type) fills in, and when a filled value follows later changes.

Microsoft over SMTP: smtp.office365.com, port 587, STARTTLS and the SMTP.Send scope. Microsoft over
Graph: the token endpoint on the cloud's login host (taken from the Graph endpoint: global, US
Government or China) for the tenant, and the scope `{graph_endpoint}/.default` app-only or
`{graph_endpoint}/Mail.Send offline_access` delegated. Google over SMTP or the Gmail API: Google's
endpoints and `https://mail.google.com/` or the narrower `gmail.send` scope.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from alertmail.domain.settings_model import DEFAULT_GRAPH_ENDPOINT, MailSettings

__all__ = [
    "CLOUD_LOGIN",
    "GMAIL_SEND_SCOPE",
    "MICROSOFT_AUTHORIZE",
    "MICROSOFT_DEVICE",
    "MICROSOFT_TOKEN",
    "PRESETS",
    "device_endpoint",
    "login_host",
    "microsoft_device_endpoint",
    "preset_fill",
    "preset_for",
]

MICROSOFT_LOGIN = "https://login.microsoftonline.com"
MICROSOFT_AUTHORIZE = MICROSOFT_LOGIN + "/{tenant}/oauth2/v2.0/authorize"
MICROSOFT_TOKEN = MICROSOFT_LOGIN + "/{tenant}/oauth2/v2.0/token"
MICROSOFT_DEVICE = MICROSOFT_LOGIN + "/{tenant}/oauth2/v2.0/devicecode"
_MICROSOFT_TOKEN_PATH = re.compile(r"^(?P<base>https?://[^/?#\s]+/[^/?#\s]+/oauth2/v2\.0/)token$")
GMAIL_SEND_SCOPE = "https://www.googleapis.com/auth/gmail.send"
_GOOGLE_ENDPOINTS = {
    "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
    "token_endpoint": "https://oauth2.googleapis.com/token",
}
# Each national cloud signs in on its own login host (Microsoft Learn: "National cloud deployments").
CLOUD_LOGIN = {
    "https://graph.microsoft.com": MICROSOFT_LOGIN,
    "https://graph.microsoft.us": "https://login.microsoftonline.us",
    "https://dod-graph.microsoft.us": "https://login.microsoftonline.us",
    "https://microsoftgraph.chinacloudapi.cn": "https://login.chinacloudapi.cn",
}
# Every Microsoft login host: the clouds' above, and China's newer one (21Vianet).
_MICROSOFT_LOGIN_HOSTS = frozenset(
    {urlsplit(login).hostname or "" for login in CLOUD_LOGIN.values()} | {"login.partner.microsoftonline.cn"}
)
# Filled from other fields: they follow those fields while nobody has edited them.
_DERIVED = ("authorization_endpoint", "token_endpoint", "scopes")

# What choosing a provider fills in for SMTP; the admin may still edit what the seeds leave editable.
PRESETS: dict[str, dict[str, Any]] = {
    "microsoft": {
        "hostname": "smtp.office365.com",
        "port": 587,
        "encryption": "starttls",
        "scopes": "https://outlook.office.com/SMTP.Send offline_access",
        # Exchange Online: 3 concurrent connections per mailbox, 30 messages a minute.
        "max_connections": 3,
        "messages_per_minute": 30,
    },
    "google": {
        "hostname": "smtp.gmail.com",
        "port": 587,
        "encryption": "starttls",
        "scopes": "https://mail.google.com/",
        **_GOOGLE_ENDPOINTS,
    },
    "custom": {},
}
# The E-mail Types each provider's preset may keep; any other goes back to SMTP.
_TYPES_OF = {"microsoft": ("smtp", "graph"), "google": ("smtp", "gmail_api")}
_API_PROVIDER = {"graph": "microsoft", "gmail_api": "google"}


def login_host(graph_endpoint: str) -> str:
    """The sign-in host of the cloud a Graph endpoint belongs to (the global one for any other)."""
    return CLOUD_LOGIN.get(graph_endpoint.rstrip("/").lower(), MICROSOFT_LOGIN)


def preset_for(values: Mapping[str, Any]) -> dict[str, Any]:
    """The preset of the provider, E-mail Type, grant, tenant and Graph endpoint in `values`."""
    provider = values.get("oauth_provider")
    if values.get("auth_type") != "oauth2" or provider not in PRESETS:
        return {}
    email_type = values.get("email_type")
    if provider == "microsoft" and email_type == "graph":
        return _graph_preset(values)
    if provider == "google" and email_type == "gmail_api":
        return {**_GOOGLE_ENDPOINTS, "scopes": GMAIL_SEND_SCOPE}
    preset = dict(PRESETS[provider])
    if provider == "microsoft":
        preset |= _microsoft_smtp_endpoints(
            str(values.get("tenant_id") or ""), str(values.get("token_endpoint") or "")
        )
    return preset


def _microsoft_smtp_endpoints(tenant: str, token_endpoint: str) -> dict[str, str]:
    """Microsoft's endpoints for `tenant`, on the login host the token endpoint already uses when
    it is one of Microsoft's clouds (login.microsoftonline.us stays .us), else the global one."""
    parts = urlsplit(token_endpoint)
    login = f"https://{parts.netloc}" if parts.hostname in _MICROSOFT_LOGIN_HOSTS else MICROSOFT_LOGIN
    endpoints = {"authorization_endpoint": MICROSOFT_AUTHORIZE, "token_endpoint": MICROSOFT_TOKEN}
    return {
        name: url.format(tenant=tenant or "{tenant}").replace(MICROSOFT_LOGIN, login, 1)
        for name, url in endpoints.items()
    }


def microsoft_device_endpoint(token_endpoint: str) -> str:
    """Microsoft's device authorization endpoint beside `token_endpoint`: `.../{tenant}/oauth2/v2.0/
    devicecode` on the same host, so a sovereign cloud's login host is kept; "" for another shape."""
    found = _MICROSOFT_TOKEN_PATH.match(token_endpoint)
    return found.group("base") + "devicecode" if found else ""


def device_endpoint(settings: MailSettings) -> str:
    """Where a device sign-in starts: the setting, or for Microsoft the one beside its token endpoint
    (settings saved before the setting existed have it empty)."""
    if settings.device_authorization_endpoint:
        return settings.device_authorization_endpoint
    if settings.oauth_provider == "microsoft":
        return microsoft_device_endpoint(settings.token_endpoint)
    return ""


def _graph_preset(values: Mapping[str, Any]) -> dict[str, Any]:
    graph = str(values.get("graph_endpoint") or DEFAULT_GRAPH_ENDPOINT).rstrip("/")
    login = f"{login_host(graph)}/{values.get('tenant_id') or '{tenant}'}/oauth2/v2.0"
    app_only = values.get("oauth_grant") == "client_credentials"
    return {
        "authorization_endpoint": f"{login}/authorize",
        "token_endpoint": f"{login}/token",
        "scopes": f"{graph}/.default" if app_only else f"{graph}/Mail.Send offline_access",
        # Graph: 4 concurrent requests per mailbox; Exchange Online's 30 messages a minute still hold.
        "max_connections": 4,
        "messages_per_minute": 30,
    }


def preset_fill(current: MailSettings, merged: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The values a preset fills into `merged` (current settings with `changes` applied)."""
    fill = _api_type_needs(merged, changes)
    merged = {**merged, **fill}
    provider = merged.get("oauth_provider")
    if merged.get("auth_type") != "oauth2" or provider not in PRESETS:
        return fill
    kept_types = _TYPES_OF.get(str(provider), ())
    if kept_types and merged.get("email_type") not in kept_types and "email_type" not in changes:
        fill["email_type"] = merged["email_type"] = "smtp"
    before = _preset_of(current)
    same_provider = provider == current.oauth_provider and current.auth_type == "oauth2"
    newly_chosen = not same_provider or merged.get("email_type") != current.email_type
    preset = preset_for(merged)
    for name, value in preset.items():
        if name in changes:
            continue
        # Another E-mail Type of the same provider (SMTP to Graph) keeps endpoints the admin edited.
        kept = same_provider and name.endswith("_endpoint") and getattr(current, name) != before.get(name)
        # Only an empty field is filled: 0 is a choice (Microsoft's messages_per_minute=0, no limit).
        if (
            (newly_chosen and not kept)
            or _follows(name, current, before, merged)
            or merged.get(name) in (None, "")
        ):
            fill[name] = value
    if newly_chosen:
        fill |= _left_by_previous_preset(current, before, preset, changes)
    if provider == "microsoft" and "device_authorization_endpoint" not in changes:
        # Beside the token endpoint in force: the same login host (a sovereign cloud's) and tenant.
        token_endpoint = fill.get("token_endpoint", merged.get("token_endpoint"))
        fill["device_authorization_endpoint"] = microsoft_device_endpoint(str(token_endpoint or ""))
    return fill


def _api_type_needs(merged: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Choosing Graph or the Gmail API chooses OAuth2 and its provider, unless the update says."""
    provider = _API_PROVIDER.get(str(merged.get("email_type")))
    if provider is None or "email_type" not in changes:
        return {}
    fill: dict[str, Any] = {}
    if "auth_type" not in changes and merged.get("auth_type") != "oauth2":
        fill["auth_type"] = "oauth2"
    if "oauth_provider" not in changes and merged.get("oauth_provider") not in (provider, "custom"):
        fill["oauth_provider"] = provider
    if provider == "google" and "oauth_grant" not in changes:
        fill["oauth_grant"] = "authorization_code"  # Google has no app-only sending to keep
    return fill


def _follows(name: str, current: MailSettings, before: Mapping[str, Any], merged: Mapping[str, Any]) -> bool:
    """A derived value follows the fields it comes from while it still holds what they gave."""
    if name not in _DERIVED or merged.get("oauth_provider") != "microsoft":
        return False
    if merged.get("email_type") == "smtp" and name.endswith("_endpoint"):
        return True  # SMTP's Microsoft endpoints always follow the tenant
    return bool(getattr(current, name) == before.get(name))


def _preset_of(settings: MailSettings) -> dict[str, Any]:
    preset = preset_for({name: getattr(settings, name) for name in type(settings).model_fields})
    if preset and settings.oauth_provider == "microsoft":  # what preset_fill derived beside it
        preset["device_authorization_endpoint"] = microsoft_device_endpoint(settings.token_endpoint)
    return preset


def _left_by_previous_preset(
    current: MailSettings, before: Mapping[str, Any], preset: Mapping[str, Any], changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Switching provider clears what the previous provider's preset filled and the new one does
    not (Microsoft's host and endpoints never linger under Custom); values the admin typed stay."""
    defaults = MailSettings.model_fields
    return {
        name: defaults[name].default
        for name, value in before.items()
        if name not in preset and name not in changes and getattr(current, name) == value
    }
