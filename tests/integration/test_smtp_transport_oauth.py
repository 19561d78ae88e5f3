"""SmtpTransport's OAuth2 side against real aiosmtpd servers: XOAUTH2, OAUTHBEARER, TLS only."""

from __future__ import annotations

import pytest

from alertmail.adapters.smtp_transport import SmtpTransport
from alertmail.domain.classification import classify
from alertmail.domain.settings import MailSettings
from alertmail.errors import SmtpReplyError, TlsUnavailableError, TransportError
from tests.support.smtp import AuthAttempt, SmtpServerFactory, SmtpSink, alert_message, relay_settings

ADMIN = "admin@example.com"


def oauth2(sink: SmtpSink, tls_ca_pem: str, **changes: object) -> MailSettings:
    fields: dict[str, object] = {
        "auth_type": "oauth2",
        "oauth_provider": "google",
        "client_id": "client-id",
        "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_endpoint": "https://oauth2.googleapis.com/token",
        "scopes": "https://mail.google.com/",
        "username": "relay-user",
        "tls_trusted_ca": tls_ca_pem,
    }
    return relay_settings(sink, **(fields | changes))


class StaticTokens:
    """An `AccessTokenSource` handing out `tokens` in order: the next one on a forced refresh."""

    def __init__(self, *tokens: str) -> None:
        self._tokens = list(tokens)
        self.forced = 0
        self.accepted = 0

    async def access_token(self, settings: MailSettings, *, force_refresh: bool = False) -> str:
        if force_refresh:
            self.forced += 1
            self._tokens.pop(0)
        return self._tokens[0]

    async def token_accepted(self, settings: MailSettings) -> None:
        self.accepted += 1


async def test_xoauth2_with_the_source_token_over_starttls(
    smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    sink = await smtp_server_factory(
        tls="starttls", auth_required=True, auth_mechanisms=("XOAUTH2",), access_token="fresh-token"
    )
    tokens = StaticTokens("fresh-token")

    await SmtpTransport(tokens=tokens).send(alert_message(), [ADMIN], oauth2(sink, tls_ca_pem))

    assert sink.auth_attempts == [AuthAttempt("XOAUTH2", "relay-user", success=True, tls=True)]
    assert [command.argument for command in sink.commands if command.verb == "AUTH"] == ["XOAUTH2"]
    assert (len(sink.messages), tokens.forced, tokens.accepted) == (1, 0, 1)


async def test_a_refused_token_is_replaced_once_by_a_fresh_one(
    smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    sink = await smtp_server_factory(tls="starttls", auth_mechanisms=("XOAUTH2",), access_token="new")
    tokens = StaticTokens("revoked", "new")

    await SmtpTransport(tokens=tokens).send(alert_message(), [ADMIN], oauth2(sink, tls_ca_pem))

    assert [attempt.success for attempt in sink.auth_attempts] == [False, True]
    assert (tokens.forced, len(sink.messages)) == (1, 1)


async def test_a_fresh_token_refused_too_is_an_oauth_failure_at_xoauth2(
    smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    sink = await smtp_server_factory(tls="starttls", auth_mechanisms=("XOAUTH2",), access_token="fresh")
    tokens = StaticTokens("expired", "also-refused")

    with pytest.raises(SmtpReplyError) as caught:
        await SmtpTransport(tokens=tokens).send(alert_message(), [ADMIN], oauth2(sink, tls_ca_pem))

    assert (caught.value.code, caught.value.stage) == (535, "xoauth2")
    assert "expired" not in caught.value.detail and "also-refused" not in caught.value.detail
    assert classify(caught.value).category == "oauth"
    assert len(sink.auth_attempts) == 2 and not sink.mail_received


async def test_oauthbearer_when_it_is_all_the_server_offers(
    smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    sink = await smtp_server_factory(
        tls="starttls", auth_required=True, auth_mechanisms=("OAUTHBEARER",), access_token="fresh-token"
    )

    await SmtpTransport(tokens=StaticTokens("fresh-token")).send(
        alert_message(), [ADMIN], oauth2(sink, tls_ca_pem)
    )

    assert sink.auth_attempts == [AuthAttempt("OAUTHBEARER", "relay-user", success=True, tls=True)]
    assert len(sink.messages) == 1


async def test_oauthbearer_error_challenge_is_answered_and_fails_with_535(
    smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    sink = await smtp_server_factory(tls="starttls", auth_mechanisms=("OAUTHBEARER",), access_token="fresh")

    with pytest.raises(SmtpReplyError) as caught:
        await SmtpTransport(tokens=StaticTokens("stale", "stale-too")).send(
            alert_message(), [ADMIN], oauth2(sink, tls_ca_pem)
        )

    assert (caught.value.code, caught.value.stage) == (535, "xoauth2")
    assert not sink.mail_received


async def test_a_server_without_starttls_never_receives_auth_or_a_token(
    smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    sink = await smtp_server_factory(auth_mechanisms=("XOAUTH2",), auth_require_tls=False)
    tokens = StaticTokens("secret-token")

    settings = oauth2(sink, tls_ca_pem, encryption="starttls")

    with pytest.raises(TlsUnavailableError):
        await SmtpTransport(tokens=tokens).send(alert_message(), [ADMIN], settings)

    assert "AUTH" not in sink.verbs and not sink.auth_received
    assert tokens.accepted == 0


async def test_oauth2_without_a_token_source_fails_before_connecting(
    smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    sink = await smtp_server_factory(tls="starttls", auth_mechanisms=("XOAUTH2",))

    with pytest.raises(TransportError, match="no access token is available; sign in first"):
        await SmtpTransport().send(alert_message(), [ADMIN], oauth2(sink, tls_ca_pem))

    assert sink.connections == 0
