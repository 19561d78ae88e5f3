"""Mail settings for E-mail Types `graph` and `gmail_api`, pointed at the stand-ins on loopback.

`graph_app_only(provider, api)`: Microsoft Graph with client credentials, the token endpoint at the
provider fake, the Graph endpoint at the mail API fake. `gmail_delegated(...)`: the Gmail API with a
sign-in. `strict_tokens(provider, api)` makes the API fake accept only the tokens the provider fake
issued, as Graph accepts only Entra's.
"""

from __future__ import annotations

from typing import Any

from tests.support.mail_api_fakes import MailApiFake
from tests.support.oauth_settings import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, TENANT_ID
from tests.support.provider_fakes import ProviderFake

__all__ = ["CONTACTS", "MAILBOX", "gmail_delegated", "graph_app_only", "graph_delegated", "strict_tokens"]

MAILBOX = "relay@contoso.com"  # the provider fake's account
CONTACTS = ["ops@example.com", "oncall@example.com"]


def strict_tokens(provider: ProviderFake, api: MailApiFake, *, audience: str | None = None) -> None:
    """Accept only tokens `provider` issued; with `audience`, only those issued for a scope naming it
    (Graph refuses a token for outlook.office.com: "Access token validation failure. Invalid audience.")."""

    async def issued(token: str) -> bool:
        if audience is not None and audience not in provider.token_scopes.get(token, ""):
            return False
        return token in provider.issued_access_tokens

    api.token_check = issued


def graph_app_only(provider: ProviderFake, api: MailApiFake, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "from_address": MAILBOX,
        "email_type": "graph",
        "oauth_provider": "microsoft",
        "oauth_grant": "client_credentials",
        "tenant_id": TENANT_ID,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "token_endpoint": provider.microsoft_token(),
        "graph_endpoint": api.base_url,
        "username": MAILBOX,
        "admin_contacts": CONTACTS,
        "connect_timeout": 5,
    }
    return fields | changes


def graph_delegated(provider: ProviderFake, api: MailApiFake, **changes: Any) -> dict[str, Any]:
    fields = graph_app_only(provider, api, oauth_grant="authorization_code")
    fields |= {"authorization_endpoint": provider.microsoft_authorize(), "redirect_uri": REDIRECT_URI}
    return fields | changes


def gmail_delegated(provider: ProviderFake, api: MailApiFake, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "from_address": provider.account,
        "email_type": "gmail_api",
        "oauth_provider": "google",
        "client_id": "1234567890-alertmail.apps.googleusercontent.com",
        "client_secret": CLIENT_SECRET,
        "authorization_endpoint": provider.google_authorize,
        "token_endpoint": provider.google_token,
        "gmail_endpoint": api.base_url,
        "redirect_uri": REDIRECT_URI,
        "username": provider.account,
        "admin_contacts": CONTACTS,
        "connect_timeout": 5,
    }
    return fields | changes
