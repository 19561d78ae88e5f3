"""SmtpTransport against real SMTP servers (aiosmtpd on 127.0.0.1), one test per outcome."""

from __future__ import annotations

import time

import pytest
import trustme
from aiosmtplib import SMTPConnectError

from alertmail.adapters.smtp_errors import Stage, translate_errors
from alertmail.adapters.smtp_transport import SmtpTransport
from alertmail.domain.settings import MailSettings
from alertmail.errors import (
    ConnectRefusedError,
    ConnectTimeoutError,
    DnsError,
    SmtpReplyError,
    TlsHandshakeError,
    TlsUnavailableError,
)
from tests.support.smtp import (
    CONTENT_REJECTED,
    TRY_AGAIN_LATER,
    AuthAttempt,
    SmtpServerFactory,
    SmtpSink,
    alert_message,
    relay_settings,
    server_context,
    user_unknown,
)

ADMIN = "admin@example.com"
NOBODY = "nobody@example.com"
PASSWORD = "relay-password"


def basic_auth(sink: SmtpSink, tls_ca_pem: str, **changes: object) -> MailSettings:
    fields: dict[str, object] = {
        "auth_type": "basic",
        "username": "relay-user",
        "password": PASSWORD,
        "tls_trusted_ca": tls_ca_pem,
    }
    return relay_settings(sink, **(fields | changes))


# --- delivery ---------------------------------------------------------------------------------


async def test_delivers_in_clear_with_the_configured_envelope(smtp_server: SmtpSink) -> None:
    await SmtpTransport().send(alert_message([ADMIN]), [ADMIN], relay_settings(smtp_server))

    [received] = smtp_server.messages
    assert received.mail_from == "alerts@example.com"
    assert received.rcpt_tos == (ADMIN,)
    assert received.message["Subject"] == "Disk almost full"
    assert not received.tls
    assert "STARTTLS" not in smtp_server.verbs
    assert smtp_server.verbs[-1] == "QUIT"


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
async def test_delivers_over_tls_trusting_the_configured_ca(
    smtp_server_factory: SmtpServerFactory, tls_ca_pem: str, tls: str
) -> None:
    sink = await smtp_server_factory(tls=tls, require_starttls=tls == "starttls")

    await SmtpTransport().send(alert_message(), [ADMIN], relay_settings(sink, tls_trusted_ca=tls_ca_pem))

    [received] = sink.messages
    assert received.tls
    assert all(command.tls for command in sink.commands if command.verb == "MAIL")
    if tls == "starttls":
        assert sink.verbs[:3] == ["EHLO", "STARTTLS", "EHLO"]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_basic_auth_with_the_one_mechanism_offered(
    smtp_server_factory: SmtpServerFactory, tls_ca_pem: str, mechanism: str
) -> None:
    sink = await smtp_server_factory(
        tls="starttls", require_starttls=True, auth_required=True, auth_mechanisms=(mechanism,)
    )

    await SmtpTransport().send(alert_message(), [ADMIN], basic_auth(sink, tls_ca_pem))

    assert sink.auth_attempts == [AuthAttempt(mechanism, "relay-user", success=True, tls=True)]
    assert not sink.auth_before_tls
    [received] = sink.messages
    assert received.authenticated_as == "relay-user"


async def test_basic_auth_over_implicit_tls(smtp_server_factory: SmtpServerFactory, tls_ca_pem: str) -> None:
    sink = await smtp_server_factory(tls="implicit", auth_required=True)

    await SmtpTransport().send(alert_message(), [ADMIN], basic_auth(sink, tls_ca_pem))

    assert [attempt.success for attempt in sink.auth_attempts] == [True]
    assert sink.messages[0].authenticated_as == "relay-user"


# --- authentication failures ------------------------------------------------------------------


async def test_wrong_password_is_reply_535_at_auth(
    smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    sink = await smtp_server_factory(tls="starttls", auth_required=True)
    settings = basic_auth(sink, tls_ca_pem, password="not-the-password")

    with pytest.raises(SmtpReplyError) as caught:
        await SmtpTransport().send(alert_message(), [ADMIN], settings)

    error = caught.value
    assert (error.code, error.stage, error.message) == (535, "auth", "5.7.3 Authentication unsuccessful")
    assert (error.host, error.port) == ("127.0.0.1", sink.port)
    assert "not-the-password" not in error.detail
    assert sink.auth_attempts and not any(attempt.success for attempt in sink.auth_attempts)
    assert not sink.mail_received


async def test_relay_requiring_auth_without_credentials_is_reply_530_at_mail(
    smtp_server_factory: SmtpServerFactory,
) -> None:
    sink = await smtp_server_factory(auth_required=True)

    with pytest.raises(SmtpReplyError) as caught:
        await SmtpTransport().send(alert_message(), [ADMIN], relay_settings(sink))

    assert (caught.value.code, caught.value.stage) == (530, "mail")


# --- connection failures ----------------------------------------------------------------------


async def test_unresolvable_hostname_is_dns_error() -> None:
    settings = relay_settings(587, hostname="smtp.alertmail.invalid")

    with pytest.raises(DnsError) as caught:
        await SmtpTransport().send(alert_message(), [ADMIN], settings)

    assert (caught.value.host, caught.value.port) == ("smtp.alertmail.invalid", 587)


async def test_server_that_never_greets_is_connect_timeout(smtp_server_factory: SmtpServerFactory) -> None:
    sink = await smtp_server_factory(silent=True)
    started = time.monotonic()

    with pytest.raises(ConnectTimeoutError) as caught:
        await SmtpTransport().send(alert_message(), [ADMIN], relay_settings(sink, connect_timeout=1))

    assert time.monotonic() - started < 10
    assert (caught.value.host, caught.value.port, caught.value.timeout) == ("127.0.0.1", sink.port, 1)
    assert sink.connections == 1


async def test_closed_port_is_connect_refused(refused_port: int) -> None:
    with pytest.raises(ConnectRefusedError) as caught:
        await SmtpTransport().send(alert_message(), [ADMIN], relay_settings(refused_port))

    assert (caught.value.host, caught.value.port) == ("127.0.0.1", refused_port)


def test_refusal_by_every_address_of_a_name_is_connect_refused() -> None:
    # Python 3.11 reports a name with several addresses (localhost: ::1, 127.0.0.1) as one OSError.
    both = OSError(
        "Multiple exceptions: [Errno 111] Connect call failed ('::1', 25, 0, 0), "
        "[Errno 111] Connect call failed ('127.0.0.1', 25)"
    )
    settings = relay_settings(25, hostname="localhost")

    with pytest.raises(ConnectRefusedError), translate_errors(settings, Stage()):
        raise SMTPConnectError(f"Error connecting to localhost on port 25: {both}") from both


# --- TLS failures -----------------------------------------------------------------------------


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
async def test_certificate_from_an_untrusted_ca_is_refused(
    smtp_server_factory: SmtpServerFactory, tls: str
) -> None:
    sink = await smtp_server_factory(tls=tls)
    settings = basic_auth(sink, tls_ca_pem="")  # the system trust store only

    with pytest.raises(TlsHandshakeError) as caught:
        await SmtpTransport().send(alert_message(), [ADMIN], settings)

    assert caught.value.certificate_invalid
    assert (caught.value.host, caught.value.port) == ("127.0.0.1", sink.port)
    assert not sink.auth_received and not sink.mail_received


async def test_certificate_for_another_name_is_refused(
    smtp_server_factory: SmtpServerFactory, tls_ca: trustme.CA, tls_ca_pem: str
) -> None:
    elsewhere = server_context(tls_ca.issue_cert("mail.elsewhere.example"))
    sink = await smtp_server_factory(tls="starttls", tls_context=elsewhere)

    with pytest.raises(TlsHandshakeError) as caught:
        await SmtpTransport().send(alert_message(), [ADMIN], relay_settings(sink, tls_trusted_ca=tls_ca_pem))

    assert caught.value.certificate_invalid
    assert not sink.mail_received


async def test_implicit_tls_to_a_plain_server_is_a_handshake_error(
    smtp_server: SmtpSink, tls_ca_pem: str
) -> None:
    settings = relay_settings(smtp_server, encryption="tls", tls_trusted_ca=tls_ca_pem)

    with pytest.raises(TlsHandshakeError) as caught:
        await SmtpTransport().send(alert_message(), [ADMIN], settings)

    assert not caught.value.certificate_invalid


async def test_starttls_not_offered_sends_no_auth_and_no_mail(
    smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    # A server without STARTTLS that would take AUTH in clear: the trap of opportunistic STARTTLS.
    sink = await smtp_server_factory(tls="none", auth_require_tls=False)
    settings = basic_auth(sink, tls_ca_pem, encryption="starttls")

    with pytest.raises(TlsUnavailableError) as caught:
        await SmtpTransport().send(alert_message(), [ADMIN], settings)

    assert (caught.value.host, caught.value.port) == ("127.0.0.1", sink.port)
    assert sink.verbs == ["EHLO"]
    assert not sink.auth_received and not sink.mail_received and not sink.messages

    # The sink does see AUTH in clear when the client sends it: the assertions above can fail.
    consent = basic_auth(sink, tls_ca_pem, encryption="none", allow_plaintext_auth=True)
    await SmtpTransport().send(alert_message(), [ADMIN], consent)
    assert sink.auth_before_tls


async def test_a_relay_offering_auth_before_starttls_sees_no_auth_without_consent(
    smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    # #13 item 1: a relay that offers AUTH in clear. Settings saved before the rule (built without
    # validation, as a stored row is loaded) must still not put the password on the wire.
    sink = await smtp_server_factory(tls="starttls", auth_require_tls=False)
    valid = basic_auth(sink, tls_ca_pem)
    stored_before_the_rule = MailSettings.model_construct(**(dict(valid) | {"encryption": "none"}))

    with pytest.raises(TlsUnavailableError) as caught:
        await SmtpTransport().send(alert_message(), [ADMIN], stored_before_the_rule)

    assert "allow_plaintext_auth" in str(caught.value)
    assert not sink.auth_received and not sink.auth_attempts and not sink.messages
    # The sink would take AUTH in clear: the assertion above can fail.
    await SmtpTransport().send(
        alert_message(), [ADMIN], stored_before_the_rule.model_copy(update={"allow_plaintext_auth": True})
    )
    assert sink.auth_before_tls


async def test_plaintext_auth_by_consent_logs_a_warning_on_each_send(
    smtp_server_factory: SmtpServerFactory, tls_ca_pem: str, caplog: pytest.LogCaptureFixture
) -> None:
    sink = await smtp_server_factory(tls="starttls", auth_require_tls=False)
    settings = basic_auth(sink, tls_ca_pem, encryption="none", allow_plaintext_auth=True)

    for _ in range(2):
        await SmtpTransport().send(alert_message(), [ADMIN], settings)

    assert [a.tls for a in sink.auth_attempts] == [False, False]
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "without encryption" in r.message]
    assert len(warnings) == 2
    assert PASSWORD not in caplog.text


# --- replies refusing the message -------------------------------------------------------------


async def test_421_at_greeting_is_a_reply_error_at_connect(smtp_server_factory: SmtpServerFactory) -> None:
    sink = await smtp_server_factory(greeting=TRY_AGAIN_LATER)

    with pytest.raises(SmtpReplyError) as caught:
        await SmtpTransport().send(alert_message(), [ADMIN], relay_settings(sink))

    error = caught.value
    assert (error.code, error.message, error.stage) == (421, "4.7.0 Try again later", "connect")
    assert (error.host, error.port) == ("127.0.0.1", sink.port)


async def test_unknown_recipient_is_reply_550_at_rcpt(smtp_server_factory: SmtpServerFactory) -> None:
    sink = await smtp_server_factory(rcpt_replies={NOBODY: user_unknown(NOBODY)})

    with pytest.raises(SmtpReplyError) as caught:
        await SmtpTransport().send(alert_message([NOBODY]), [NOBODY], relay_settings(sink))

    error = caught.value
    assert (error.code, error.stage) == (550, "rcpt")
    assert error.message == f"5.1.1 <{NOBODY}>: Recipient address rejected: User unknown"
    assert not sink.messages


async def test_some_recipients_refused_delivers_to_the_others_and_reports_the_refusal(
    smtp_server_factory: SmtpServerFactory,
) -> None:
    sink = await smtp_server_factory(rcpt_replies={NOBODY: user_unknown(NOBODY)})

    with pytest.raises(SmtpReplyError) as caught:
        await SmtpTransport().send(alert_message([ADMIN, NOBODY]), [ADMIN, NOBODY], relay_settings(sink))

    assert (caught.value.code, caught.value.stage) == (550, "rcpt")
    assert NOBODY in caught.value.message
    [received] = sink.messages
    assert received.rcpt_tos == (ADMIN,)


async def test_message_refused_after_data_is_reply_554_at_data(
    smtp_server_factory: SmtpServerFactory,
) -> None:
    sink = await smtp_server_factory(data_reply=CONTENT_REJECTED)

    with pytest.raises(SmtpReplyError) as caught:
        await SmtpTransport().send(alert_message(), [ADMIN], relay_settings(sink))

    error = caught.value
    assert (error.code, error.message, error.stage) == (
        554,
        "5.7.1 Message rejected due to content policy",
        "data",
    )
