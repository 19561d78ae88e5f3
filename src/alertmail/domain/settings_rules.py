"""The rules between fields: what each E-mail Type and authentication needs, as (field, problem) pairs.

Every problem names the field to change, so one save reports all of them at once. The single-field
checks are on the model (`settings_model.py`).
"""

from __future__ import annotations

from alertmail.domain.fallback_settings import fallback_problems
from alertmail.domain.settings_model import MailSettings
from alertmail.domain.transport_security import sends_password_in_clear

__all__ = ["API_TYPES", "combination_problems"]

Problems = list[tuple[str, str]]

# The E-mail Types that send over an HTTP API with an OAuth2 access token, not over SMTP.
API_TYPES = frozenset({"graph", "gmail_api"})
_API_PROVIDERS = {"graph": ("microsoft", "custom"), "gmail_api": ("google", "custom")}
_API_NAMES = {"graph": "Microsoft Graph (graph)", "gmail_api": "the Gmail API (gmail_api)"}


def combination_problems(s: MailSettings) -> Problems:
    found: Problems = []
    if s.email_type == "smtp" and not s.hostname:
        found.append(("hostname", "is required when the E-mail Type is SMTP"))
    if s.email_type in API_TYPES:
        found.extend(_api_problems(s))
    elif s.auth_type == "oauth2":
        found.extend(_smtp_oauth_problems(s))
    if sends_password_in_clear(s) and not s.allow_plaintext_auth:
        found.append(("encryption", "must be tls or starttls with a password; or set allow_plaintext_auth"))
    if s.auth_type == "basic" and s.email_type == "smtp":
        if not s.username:
            found.append(("username", "is required with username and password authentication"))
        if s.password is None or not s.password.get_secret_value():
            found.append(("password", "is required with username and password authentication"))
    return found + fallback_problems(s)


def _smtp_oauth_problems(s: MailSettings) -> Problems:
    found: Problems = []
    if s.email_type != "smtp":
        types = "SMTP (smtp), Microsoft Graph (graph) or Gmail API (gmail_api)"
        found.append(("email_type", f"must be {types} with OAuth2"))
    found.extend(_oauth_client_problems(s))
    if not s.username:
        found.append(("username", "is required with OAuth2: the mailbox that sends"))
    if s.encryption == "none":
        clear = "must be TLS or STARTTLS with OAuth2: an access token never crosses in clear"
        found.append(("encryption", clear))
    if s.oauth_grant == "client_credentials" and s.oauth_provider == "google":
        found.append(("oauth_grant", "App-only (client_credentials) is not available for Google SMTP"))
    found.extend(_secret_problems(s))
    return found


def _oauth_client_problems(s: MailSettings) -> Problems:
    """What any OAuth2 sign-in needs: a provider, a client, endpoints and scopes."""
    found: Problems = []
    if s.oauth_provider is None:
        found.append(
            (
                "oauth_provider",
                "is required with OAuth2: Microsoft 365 (microsoft), Google (google) or Custom (custom)",
            )
        )
    if not s.client_id:
        found.append(("client_id", "is required with OAuth2"))
    if s.oauth_provider == "microsoft" and not s.tenant_id:
        found.append(("tenant_id", "is required for Microsoft 365"))
    needed = ["authorization_endpoint", "token_endpoint", "scopes"]
    if s.email_type in API_TYPES and s.oauth_grant == "client_credentials":
        needed.remove("authorization_endpoint")  # app-only: nobody signs in
    for field in needed:
        if not getattr(s, field):
            found.append((field, "is required with OAuth2"))
    return found


def _secret_problems(s: MailSettings) -> Problems:
    if s.oauth_grant != "client_credentials":
        return []
    if s.client_secret is None or not s.client_secret.get_secret_value():
        return [("client_secret", "is required for app-only (client_credentials) sending")]
    return []


def _api_problems(s: MailSettings) -> Problems:
    """Graph and the Gmail API take an OAuth2 access token for the mailbox that sends."""
    name = _API_NAMES[s.email_type]
    found: Problems = []
    if s.auth_type != "oauth2":
        found.append(("auth_type", f"must be OAuth 2.0 (oauth2) with {name}: the API takes no password"))
        return found
    allowed = _API_PROVIDERS[s.email_type]
    if s.oauth_provider is not None and s.oauth_provider not in allowed:
        found.append(("oauth_provider", f"must be {' or '.join(allowed)} with {name}"))
    found.extend(_oauth_client_problems(s))
    if not s.username:
        found.append(("username", f"is required with {name}: the mailbox that sends"))
    if s.email_type == "gmail_api" and s.oauth_grant == "client_credentials":
        no_app_only = "must be authorization_code with the Gmail API: Google offers no app-only sending"
        found.append(("oauth_grant", no_app_only))
    found.extend(_secret_problems(s))
    return found
