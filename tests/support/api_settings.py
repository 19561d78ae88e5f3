"""Mail settings for E-mail Types `graph` and `gmail_api`, pointed at the stand-ins on loopback.

`graph_app_only(provider, api)`: Microsoft Graph with client credentials, the token endpoint at the
provider fake, the Graph endpoint at the mail API fake. `gmail_delegated(...)`: the Gmail API with a
sign-in. `strict_tokens(provider, api)` makes the API fake accept only the tokens the provider fake
issued, as Graph accepts only Entra's. `refused_test_email(...)` sends a test e-mail that the API
refuses and returns its Mail Server Logs entry, once the failure was classified as expected.
"""

from __future__ import annotations

from typing import Any

from alertmail.composition import Container
from alertmail.domain import messages
from alertmail.domain.records import MailLogEntry
from tests.support.mail_api_fakes import MailApiFake
from tests.support.oauth_settings import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, TENANT_ID
from tests.support.provider_fakes import ProviderFake

__all__ = [
    "CONTACTS",
    "MAILBOX",
    "gmail_delegated",
    "graph_app_only",
    "graph_delegated",
    "refused_test_email",
    "strict_tokens",
]

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


async def refused_test_email(container: Container, *, category: str, rule: str, fix: str) -> MailLogEntry:
    """Send a test e-mail the API refuses; its one Mail Server Logs entry, once the failure shown
    to the administrator has `category`, `rule` and a hint containing `fix`."""
    result = await container.test_email.send_test(to="ops@example.com")
    assert not result.sent and result.message == messages.TEST_EMAIL_FAILED
    assert result.failure is not None
    assert (result.failure.category, result.failure.rule) == (category, rule)
    assert fix in result.failure.hint
    (entry,) = await container.mail_logs.list(limit=5)
    return entry
