"""E-mail Type `gmail_api`, and delegated sign-in for both mail APIs, end to end.

Google's sign-in and token endpoints are the provider stand-in; the Gmail API is the mail API
stand-in, a real HTTP server on loopback that decodes the raw MIME. Delegated Graph and Gmail also
sign in against the real OAuth server (oidc-provider), whose tokens the API stand-in checks by
introspection, as the real APIs accept only what their authorization server issued.
"""

from __future__ import annotations

from typing import Any

import pytest

from alertmail.composition import Container
from alertmail.domain.settings_presets import GMAIL_SEND_SCOPE
from alertmail.errors import SettingsValidationError
from tests.support.api_settings import CONTACTS, gmail_delegated, refused_test_email, strict_tokens
from tests.support.mail_api_errors import GMAIL_ERRORS
from tests.support.mail_api_fakes import MailApiFake
from tests.support.oauth_server import LOGIN, OAuthServer
from tests.support.oauth_settings import ADMIN_SIGNING_IN, signed_in
from tests.support.provider_fakes import ProviderFake

REDIRECT_URI = "http://alertmail.test/login/smtp-verification"


async def test_gmail_signs_in_with_only_gmail_send_offline_and_sends_an_event(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    strict_tokens(provider_fake, mail_api_fake)
    settings = await signed_in(container, gmail_delegated(provider_fake, mail_api_fake))
    assert settings.scopes == GMAIL_SEND_SCOPE
    asked = [r for r in provider_fake.requests if r.method == "GET"][-1].query  # preflight, then the browser
    assert asked["scope"].split() == [GMAIL_SEND_SCOPE, "openid", "email"]
    assert (asked["access_type"], asked["prompt"]) == ("offline", "consent")

    recorded = await container.notifications.raise_event("failover.backup_operations_disabled", {})
    assert await container.delivery_worker.run_once() == 1

    (received,) = mail_api_fake.received
    assert received.api == "gmail_api"
    stored = await container.outbox.get(recorded.outbox_id or "")
    assert stored.status == "sent" and received.message["Message-ID"] == stored.message_id
    assert sorted(a.addr_spec for a in received.message["To"].addresses) == sorted(CONTACTS)
    assert {p.get_content_type() for p in received.message.iter_parts()} == {"text/plain", "text/html"}


GMAIL_REFUSALS = [
    ("insufficientPermissions", "gmail_insufficient_permissions", GMAIL_SEND_SCOPE),
    ("failedPrecondition", "gmail_failed_precondition", "Service status"),
    ("accessNotConfigured", "gmail_api_not_enabled", "Library > Gmail API > Enable"),
    ("userRateLimitExceeded", "gmail_user_rate_limit", "Messages per minute"),
    ("dailyLimitExceeded", "gmail_daily_limit", "daily sending limit"),
]


@pytest.mark.parametrize(("key", "rule", "fix"), GMAIL_REFUSALS, ids=[r[0] for r in GMAIL_REFUSALS])
async def test_a_gmail_refusal_is_classified_with_its_fix(
    container: Container,
    provider_fake: ProviderFake,
    mail_api_fake: MailApiFake,
    key: str,
    rule: str,
    fix: str,
) -> None:
    await signed_in(container, gmail_delegated(provider_fake, mail_api_fake))
    mail_api_fake.fail_always(key)

    entry = await refused_test_email(container, category="gmail_api", rule=rule, fix=fix)

    assert entry.provider_code == key and entry.settings_snapshot["gmail_endpoint"] == mail_api_fake.base_url
    assert GMAIL_ERRORS[key].message in entry.message or GMAIL_ERRORS[key].top_message in entry.message


async def test_gmail_refuses_app_only_and_graph_needs_a_microsoft_or_custom_provider(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    with pytest.raises(SettingsValidationError) as refused:
        await container.settings.save(
            gmail_delegated(provider_fake, mail_api_fake, oauth_grant="client_credentials"), actor="test"
        )
    assert {e.field for e in refused.value.errors} == {"oauth_grant"}
    with pytest.raises(SettingsValidationError) as refused:
        await container.settings.save(
            gmail_delegated(provider_fake, mail_api_fake, email_type="graph"), actor="test"
        )
    assert [str(e) for e in refused.value.errors] == [
        "oauth_provider: must be microsoft or custom with Microsoft Graph (graph)"
    ]
    assert (await container.settings.current()).version == 0  # nothing saved


# --- delegated sign-in against the real OAuth server, then a send ------------------------------


def introspected(server: OAuthServer) -> Any:
    async def active(token: str) -> bool:
        return (await server.introspect(token)).get("active") is True

    return active


@pytest.mark.parametrize("email_type", ["graph", "gmail_api"])
async def test_delegated_sign_in_at_the_real_oauth_server_then_a_send(
    container: Container, oauth_server: OAuthServer, mail_api_fake: MailApiFake, email_type: str
) -> None:
    mail_api_fake.token_check = introspected(oauth_server)
    client = await oauth_server.register_client([REDIRECT_URI])
    endpoint = "graph_endpoint" if email_type == "graph" else "gmail_endpoint"
    await container.settings.save(
        {
            "from_address": LOGIN,
            "email_type": email_type,
            "oauth_provider": "custom",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "authorization_endpoint": oauth_server.authorization_endpoint,
            "token_endpoint": oauth_server.token_endpoint,
            "scopes": "openid offline_access email",
            "redirect_uri": REDIRECT_URI,
            endpoint: mail_api_fake.base_url,
            "username": LOGIN,
            "admin_contacts": CONTACTS,
        },
        actor=ADMIN_SIGNING_IN,
    )
    stored = (await container.settings.current()).settings
    assert (stored.email_type, stored.auth_type) == (email_type, "oauth2")  # OAuth2 chosen with the type
    request = await container.oauth_sign_in.begin(ADMIN_SIGNING_IN)
    location = await oauth_server.sign_in(request.authorization_url, login=LOGIN)
    outcome = await container.oauth_sign_in.complete_from_url(location, administrator=ADMIN_SIGNING_IN)
    assert outcome.succeeded, outcome.reason

    await container.notifications.raise_event("failover.backup_operations_disabled", {})
    assert await container.delivery_worker.run_once() == 1

    (received,) = mail_api_fake.received
    assert received.api == email_type and received.message["From"] == LOGIN
    claims = await oauth_server.introspect(received.token)
    assert claims["active"] is True and claims["sub"] == LOGIN
    status = await container.oauth_tokens.status(stored)
    assert status.accepted_at is not None  # the API's 2xx counts as the token accepted
