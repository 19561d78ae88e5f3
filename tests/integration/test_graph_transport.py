"""E-mail Type `graph` end to end: settings, an app-only token from the Microsoft stand-in, and a
send to the Graph stand-in, a real HTTP server on loopback that decodes and checks the MIME."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
import trustme

from alertmail.adapters.mail_api_transport import MailApiTransport, graph_request
from alertmail.adapters.secret_box import FernetSecretBox
from alertmail.adapters.storage.pacing_repository import SqlPacingRepository
from alertmail.adapters.storage.repositories import SqlSettingsRepository
from alertmail.composition import Container
from alertmail.domain import messages
from alertmail.domain.outbox import RetryPolicy
from alertmail.domain.submission import TooLargeForApiError
from alertmail.services.delivery import DeliveryWorker
from tests.support.api_settings import CONTACTS, MAILBOX, graph_app_only, refused_test_email, strict_tokens
from tests.support.delivery import FakeClock, free_port, outbox_of, queue_messages
from tests.support.mail_api_errors import GRAPH_ERRORS
from tests.support.mail_api_fakes import MailApiFake
from tests.support.provider_fakes import ProviderFake, serving


async def test_an_event_goes_out_through_graph_app_only_with_both_parts_and_its_message_id(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    strict_tokens(provider_fake, mail_api_fake)
    await container.settings.save(graph_app_only(provider_fake, mail_api_fake), actor="test")
    recorded = await container.notifications.raise_event(
        "failover.version_mismatch", {"primary_version": "1.4", "backup_version": "1.3"}
    )
    assert recorded.outbox_id is not None

    assert await container.delivery_worker.run_once() == 1

    (received,) = mail_api_fake.received
    assert (received.api, received.mailbox) == ("graph", MAILBOX)
    stored = await container.outbox.get(recorded.outbox_id)
    assert stored.status == "sent"
    message = received.message
    assert message["Message-ID"] == stored.message_id
    assert message["From"] == MAILBOX and sorted(
        message["To"].addresses[i].addr_spec for i in range(2)
    ) == sorted(CONTACTS)
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part for part in message.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "primary_version: 1.4" in _content(parts["text/plain"])
    assert "1.4" in _content(parts["text/html"])
    (token_request,) = provider_fake.token_requests
    assert token_request.form["grant_type"] == "client_credentials"
    assert token_request.form["scope"] == f"{mail_api_fake.base_url}/.default"


def _content(part: EmailMessage) -> str:
    return str(part.get_content())


# --- each refusal, as Graph sends it, to its category and fix in Mail Server Logs -------------

REFUSALS = [
    ("ErrorAccessDenied", "graph_access_denied", "Application permission Mail.Send"),
    ("ErrorAccessDenied_policy", "graph_scoped_out", "RBAC for Applications"),
    ("NoPermissionsInAccessToken", "graph_no_permissions", "Grant admin consent"),
    ("MailboxNotEnabledForRESTAPI", "graph_mailbox_not_enabled", "Exchange Online license"),
    ("ErrorSendAsDenied", "graph_send_as_denied", "Send As permission"),
    ("ErrorMessageSizeExceeded", "graph_message_too_large", "4 MB"),
    ("RequestEntityTooLarge", "graph_request_too_large", "4 MB"),
    ("ApplicationThrottled", "graph_throttled", "Retry-After"),
    ("ServiceUnavailable", "graph_unavailable", "send it again later"),
]


@pytest.mark.parametrize(("key", "rule", "fix"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_a_graph_refusal_is_classified_with_its_fix_and_its_request_id(
    container: Container,
    provider_fake: ProviderFake,
    mail_api_fake: MailApiFake,
    key: str,
    rule: str,
    fix: str,
) -> None:
    await container.settings.save(graph_app_only(provider_fake, mail_api_fake), actor="test")
    mail_api_fake.fail_always(key)

    entry = await refused_test_email(container, category="graph", rule=rule, fix=fix)

    assert entry.category == "graph" and entry.provider_code == GRAPH_ERRORS[key].code
    assert GRAPH_ERRORS[key].message in entry.message
    assert set(entry.support_details) >= {"request_id", "date", "http_status"}
    assert entry.settings_snapshot["graph_endpoint"] == mail_api_fake.base_url
    assert entry.settings_snapshot["oauth_grant"] == "client_credentials"


async def test_a_token_graph_refuses_is_replaced_once_before_the_refusal_counts(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    await container.settings.save(graph_app_only(provider_fake, mail_api_fake), actor="test")
    mail_api_fake.fail_next("InvalidAuthenticationToken")

    assert (await container.test_email.send_test(to="ops@example.com")).sent
    assert len(provider_fake.token_requests) == 2  # the first token, then a fresh one after the 401

    mail_api_fake.fail_always("InvalidAuthenticationToken")
    result = await container.test_email.send_test(to="ops@example.com")
    assert result.failure is not None and result.failure.rule == "graph_invalid_token"
    assert "Token Endpoint" in result.failure.hint


async def test_the_test_email_goes_through_graph(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    strict_tokens(provider_fake, mail_api_fake)
    await container.settings.save(graph_app_only(provider_fake, mail_api_fake), actor="test")

    result = await container.test_email.send_test(to="ops@example.com")

    assert result.sent and result.message == messages.test_email_sent("ops@example.com")
    (received,) = mail_api_fake.received
    body = _content(next(p for p in received.message.iter_parts() if p.get_content_type() == "text/plain"))
    assert "E-mail Type: Microsoft Graph" in body and f"Mailbox: {MAILBOX}" in body


# --- Retry-After, concurrency, size ---------------------------------------------------------


def graph_worker(container: Container, clock: FakeClock) -> DeliveryWorker:
    database = container.database
    box = FernetSecretBox.from_key_file(container.config.resolved_secret_key_file)
    graph = MailApiTransport("graph", graph_request, tokens=container.oauth_tokens, clock=clock)
    return DeliveryWorker(
        outbox_of(container),
        SqlSettingsRepository(database.sessionmaker, box),
        {"graph": graph},
        container.sending,
        pacing=SqlPacingRepository(database.sessionmaker, dialect=database.dialect),
        policy=RetryPolicy(),
        node="test-node",
        clock=clock,
        random_fraction=lambda: 0.5,
    )


@pytest.mark.parametrize(("key", "wait"), [("ApplicationThrottled", 2), ("ServiceUnavailable", 3)])
async def test_retry_after_holds_the_transport_for_exactly_that_long(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake, key: str, wait: int
) -> None:
    settings = graph_app_only(provider_fake, mail_api_fake, max_connections=1)
    await container.settings.save(settings, actor="test")
    clock = FakeClock(datetime.now(UTC))
    first, *others = await queue_messages(container, 3, now=clock())
    worker = graph_worker(container, clock)
    assert GRAPH_ERRORS[key].headers["Retry-After"] == str(wait)
    mail_api_fake.fail_next(key)  # 429 or 503 with Retry-After

    try:
        assert await worker.run_once() == 3
        throttled = await container.outbox.get(first.id)
        assert throttled.status == "retry_wait"
        resume = clock() + timedelta(seconds=wait)
        assert throttled.next_attempt_at == resume  # exactly, no backoff, no jitter
        for other in others:
            assert (await container.outbox.get(other.id)).next_attempt_at == resume
        clock.advance(timedelta(seconds=wait - 0.1))
        assert await worker.run_once() == 0  # held: not one request before Retry-After has passed
        assert len(mail_api_fake.attempts) == 1
        clock.advance(timedelta(seconds=0.1))
        assert await worker.run_once() == 3
    finally:
        await worker.close()
    assert len(mail_api_fake.received) == 3
    (entry,) = await container.mail_logs.list(limit=5)
    assert entry.support_details["retry_after"] == str(wait)


async def test_at_most_four_requests_per_mailbox_are_in_flight(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    await container.settings.save(
        graph_app_only(provider_fake, mail_api_fake, max_connections=8), actor="test"
    )
    await queue_messages(container, 8)
    mail_api_fake.hold = asyncio.Event()

    sending = asyncio.create_task(container.delivery_worker.run_once())
    async with asyncio.timeout(10):
        while len(mail_api_fake.attempts) < 4:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # room for a fifth request, if one could start
    assert len(mail_api_fake.attempts) == 4
    mail_api_fake.hold.set()
    assert await sending == 8
    assert mail_api_fake.max_in_flight == 4 and len(mail_api_fake.received) == 8


async def test_a_message_over_graphs_limit_is_refused_at_enqueue_and_never_queued(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    await container.settings.save(graph_app_only(provider_fake, mail_api_fake), actor="test")
    raw = (
        b"Subject: big\r\nTo: ops@example.com\r\n\r\n" + (b"x" * 76 + b"\r\n") * 45_000
    )  # 3.5 MB, 4.7 MB in base64

    with pytest.raises(TooLargeForApiError, match=r"Microsoft Graph accepts at most 4,194,304 \(4 MB\)"):
        await container.local_submission.submit(
            raw, recipients=["ops@example.com"], envelope_from=None, source="sendmail"
        )

    assert await container.outbox.list() == []
    small = raw[: 2 * 1024 * 1024]
    queued = await container.local_submission.submit(
        small, recipients=["ops@example.com"], envelope_from=None, source="sendmail"
    )
    assert queued.status == "queued"


async def test_an_unreachable_graph_endpoint_is_named_in_the_fix(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    await container.settings.save(
        graph_app_only(provider_fake, mail_api_fake, graph_endpoint=closed), actor="test"
    )

    result = await container.test_email.send_test(to="ops@example.com")

    assert result.failure is not None and result.failure.category == "connect_refused"
    assert "Graph Endpoint" in result.failure.hint and "SMTP Port" not in result.failure.hint


async def test_switching_smtp_app_only_to_graph_sends_a_graph_token_at_once(
    container: Container, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    """The cached app-only token is for outlook.office365.com: its `aud` says so, and it is not
    reused for Graph, whose first request carries a token for Graph (no 401 first)."""
    provider_fake.jwt_access_tokens = True  # Entra's access tokens are JWTs with an `aud`
    smtp_app_only = graph_app_only(
        provider_fake, mail_api_fake, email_type="smtp", auth_type="oauth2", hostname="127.0.0.1"
    )
    await container.settings.save(smtp_app_only, actor="test")
    smtp = (await container.settings.current()).settings
    await container.oauth_tokens.refresh(smtp)  # the app-only token for SMTP: outlook.office365.com
    assert provider_fake.token_requests[-1].form["scope"] == "https://outlook.office365.com/.default"
    strict_tokens(provider_fake, mail_api_fake, audience=mail_api_fake.base_url)

    await container.settings.save({"email_type": "graph"}, actor="test")
    result = await container.test_email.send_test(to="ops@example.com")

    assert result.sent, result.failure
    assert provider_fake.token_requests[-1].form["scope"] == f"{mail_api_fake.base_url}/.default"
    assert len(mail_api_fake.attempts) == 1  # Graph's own token on the first request
    assert [provider_fake.token_scopes[t] for t in mail_api_fake.bearer_tokens] == [
        f"{mail_api_fake.base_url}/.default"
    ]


async def test_graph_over_https_trusts_the_configured_ca_and_only_it(
    container: Container, provider_fake: ProviderFake, tls_server_cert: trustme.LeafCert, tls_ca_pem: str
) -> None:
    async with serving(MailApiFake(), tls=tls_server_cert) as graph:
        assert graph.base_url.startswith("https://")
        untrusted = graph_app_only(provider_fake, graph)
        await container.settings.save(untrusted, actor="test")
        refused = await container.test_email.send_test(to="ops@example.com")
        assert refused.failure is not None and refused.failure.category == "tls_handshake"
        assert "Trusted CA" in refused.failure.hint and graph.attempts == []  # nothing reached it

        await container.settings.save({"tls_trusted_ca": tls_ca_pem}, actor="test")
        assert (await container.test_email.send_test(to="ops@example.com")).sent
        assert [mail.api for mail in graph.received] == ["graph"]
