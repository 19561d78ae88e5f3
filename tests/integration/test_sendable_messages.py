"""Accept only what can be sent (#12 item 10), against a real aiosmtpd with and without SMTPUTF8:
long lines of a local submission are re-encoded, domains go out in IDNA form unless the relay
offers SMTPUTF8, non-ASCII local parts are refused without it, and the To/Cc headers the relay
receives are valid RFC 5322 (or RFC 6532 with SMTPUTF8)."""

from __future__ import annotations

from datetime import UTC, datetime
from email import errors, message_from_bytes, message_from_string, policy

import pytest

from alertmail.adapters.smtp_transport import SmtpTransport
from alertmail.composition import Container
from alertmail.config import AppConfig
from alertmail.domain.message import build_message
from alertmail.errors import TransportError
from tests.integration.test_local_senders import FROM_ADDRESS, deliver_all, sendmail
from tests.support.smtp import HOST, SmtpServerFactory, relay_settings, user_unknown
from tests.support.smtp_sink import ReceivedMessage

IDN = "ops@bücher.example"
IDN_ASCII = "ops@xn--bcher-kva.example"
UTF8_LOCAL = "jörg@example.com"


def event_mail(*to: str) -> object:
    return build_message(
        from_address="alerts@example.com", to=list(to), subject="Disk almost full", text="95%\n",
        html="<p>95%</p>", sent_at=datetime(2026, 12, 4, tzinfo=UTC),
    )  # fmt: skip


def valid_addresses(received: ReceivedMessage, name: str, *, utf8: bool = False) -> list[str]:
    """The header's addresses, after checking it parses without a defect. With SMTPUTF8 the header
    is UTF-8 (RFC 6532); Python's parser still notes a non-ASCII local part, which 6532 allows."""
    parsed = message_from_string(received.content.decode("utf-8" if utf8 else "ascii"), policy=policy.default)
    header = parsed[name]
    allowed = (errors.NonASCIILocalPartDefect,) if utf8 else ()
    assert all(isinstance(d, allowed) for d in header.defects), (name, header.defects, str(header))
    return [address.addr_spec for address in header.addresses]


async def test_without_smtputf8_domains_go_out_in_idna_form(smtp_server_factory: SmtpServerFactory) -> None:
    sink = await smtp_server_factory()
    await SmtpTransport().send(
        event_mail(IDN, "ops@example.com"), [IDN, "ops@example.com"], relay_settings(sink)
    )

    (received,) = sink.messages
    assert received.rcpt_tos == (IDN_ASCII, "ops@example.com")
    head = received.content.split(b"\r\n\r\n")[0]
    assert head.isascii() and b"=?utf-8?" not in head.lower().replace(b"=?utf-8?q?disk", b"")
    assert valid_addresses(received, "To") == [IDN_ASCII, "ops@example.com"]
    assert not any("SMTPUTF8" in c.argument for c in sink.commands if c.verb == "MAIL")


async def test_with_smtputf8_addresses_go_out_as_they_are(smtp_server_factory: SmtpServerFactory) -> None:
    sink = await smtp_server_factory(smtputf8=True)
    await SmtpTransport().send(event_mail(IDN, UTF8_LOCAL), [IDN, UTF8_LOCAL], relay_settings(sink))

    (received,) = sink.messages
    assert received.rcpt_tos == (IDN, UTF8_LOCAL)
    assert any("SMTPUTF8" in c.argument for c in sink.commands if c.verb == "MAIL")
    assert valid_addresses(received, "To", utf8=True) == [IDN, UTF8_LOCAL]  # RFC 6532


async def test_without_smtputf8_a_non_ascii_local_part_is_refused_and_nothing_sent(
    smtp_server_factory: SmtpServerFactory,
) -> None:
    sink = await smtp_server_factory()
    with pytest.raises(TransportError) as caught:
        await SmtpTransport().send(event_mail(UTF8_LOCAL), [UTF8_LOCAL], relay_settings(sink))
    assert UTF8_LOCAL in str(caught.value) and "SMTPUTF8" in str(caught.value)
    assert not sink.mail_received and not sink.messages


async def test_a_local_submission_with_a_long_line_is_re_encoded_and_arrives_whole(
    container: Container, app_config: AppConfig, smtp_server_factory: SmtpServerFactory
) -> None:
    sink = await smtp_server_factory()
    changes = {"from_address": FROM_ADDRESS, "hostname": HOST, "port": sink.port, "encryption": "none"}
    await container.settings.save(changes, actor="tests")
    log_line = "ERROR " + "é" * 2500 + " end"
    raw = f"From: root@localhost\nTo: {IDN}\nSubject: backup log\n\n{log_line}\nlast line\n".encode()

    run = await sendmail(app_config, "-t", stdin=raw)
    assert run.status == 0, run.stderr
    assert await deliver_all(container) == 1

    (received,) = sink.messages
    assert max(len(line) for line in received.content.split(b"\r\n")) <= 998
    parsed = message_from_bytes(received.content, policy=policy.default)
    assert parsed.get_content().replace("\r\n", "\n") == f"{log_line}\nlast line\n"
    assert received.rcpt_tos == (IDN_ASCII,) and valid_addresses(received, "To") == [IDN_ASCII]


async def test_a_refusal_of_an_idna_recipient_names_the_address_as_given(
    smtp_server_factory: SmtpServerFactory,
) -> None:
    sink = await smtp_server_factory(rcpt_replies={IDN_ASCII: user_unknown(IDN_ASCII)})
    session = await SmtpTransport().open_session(relay_settings(sink))
    try:
        refused = await session.send(event_mail(IDN, "ops@example.com"), [IDN, "ops@example.com"])
    finally:
        await session.close()
    assert list(refused) == [IDN] and refused[IDN].code == 550
    assert [m.rcpt_tos for m in sink.messages] == [("ops@example.com",)]
