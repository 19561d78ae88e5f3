"""The probe of the primary while on the fallback: connect, TLS, authenticate, QUIT, never a message.

SmtpTransport.probe against real aiosmtpd servers; NativeTransport.probe against real programs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from alertmail.adapters.native_transport import NativeTransport
from alertmail.adapters.smtp_transport import SmtpTransport
from alertmail.domain.classification import classify
from alertmail.domain.settings import MailSettings
from alertmail.errors import ConnectRefusedError, NativeTransportError, SmtpReplyError, TlsUnavailableError
from tests.support.smtp import SmtpServerFactory, SmtpSink, relay_settings

RELAY_PASSWORD = "relay-password"  # the sink's default credentials


def basic(sink: SmtpSink, tls_ca_pem: str, password: str = RELAY_PASSWORD) -> MailSettings:
    return relay_settings(
        sink, auth_type="basic", username="relay-user", password=password, tls_trusted_ca=tls_ca_pem
    )


async def test_a_probe_authenticates_over_starttls_and_quits_without_a_message(
    smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    sink = await smtp_server_factory(tls="starttls", require_starttls=True, auth_required=True)
    await SmtpTransport().probe(basic(sink, tls_ca_pem))
    assert sink.verbs == ["EHLO", "STARTTLS", "EHLO", "AUTH", "QUIT"]
    assert [(a.success, a.tls) for a in sink.auth_attempts] == [(True, True)]
    assert sink.messages == [] and not sink.mail_received


async def test_a_probe_with_a_refused_password_fails_as_a_send_would(
    smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    sink = await smtp_server_factory(tls="starttls", auth_required=True)
    with pytest.raises(SmtpReplyError) as caught:
        await SmtpTransport().probe(basic(sink, tls_ca_pem, password="expired"))
    assert classify(caught.value).category == "smtp_auth"
    assert not sink.mail_received


async def test_a_probe_of_a_relay_that_is_down_fails_with_connect_refused(refused_port: int) -> None:
    with pytest.raises(ConnectRefusedError):
        await SmtpTransport().probe(relay_settings(refused_port))


async def test_a_probe_never_sends_a_password_where_starttls_is_missing(
    smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    sink = await smtp_server_factory()  # no STARTTLS offered
    settings = relay_settings(
        sink.port,
        encryption="starttls",
        auth_type="basic",
        username="u",
        password="p",
        tls_trusted_ca=tls_ca_pem,
    )
    with pytest.raises(TlsUnavailableError):
        await SmtpTransport().probe(settings)
    assert not sink.auth_received


async def test_a_native_probe_passes_for_an_executable_program_and_fails_for_a_missing_one(
    tmp_path: Path,
) -> None:
    program = tmp_path / "sendmail"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    settings = MailSettings.unconfigured().model_copy(update={"email_type": "native"})
    await NativeTransport(str(program)).probe(settings)
    with pytest.raises(NativeTransportError, match="missing or not executable"):
        await NativeTransport(str(tmp_path / "nowhere")).probe(settings)
    program.chmod(0o644)
    with pytest.raises(NativeTransportError):
        await NativeTransport(str(program)).probe(settings)
