"""Header injection through local senders (#13 item 2), end to end: `alertmail sendmail` as a real
process and the loopback SMTP listener refuse a header whose encoded word decodes to CR/LF, and the
relay (a real aiosmtpd) never receives a header line alertmail did not mean to write."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import aiosmtplib
import pytest

from alertmail.composition import Container
from alertmail.config import AppConfig
from alertmail.domain.outbox import RetryPolicy, new_outbox_message
from alertmail.interfaces.smtp_listener import SmtpSubmissionListener
from tests.integration.test_local_senders import FROM_ADDRESS, deliver_all, outbox, queued, sendmail
from tests.support.smtp import HOST, SmtpServerFactory, SmtpSink

# `From: root (…)` as cron writes it, the comment an encoded word that decodes to two header lines.
INJECTION = "=?utf-8?q?Cron=0D=0AFrom:_ceo@victim.example=0D=0AX-Injected:_1?="
HOSTILE = (
    f"From: root@localhost ({INJECTION})\r\nTo: ops@example.com\r\nSubject: backup\r\n\r\nbody\r\n"
).encode()


def header_names(data: bytes) -> list[str]:
    head = data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return [line.split(b":", 1)[0].decode() for line in head.split(b"\n") if line[:1] not in (b" ", b"\t")]


@pytest.fixture
async def relay(container: Container, smtp_server_factory: SmtpServerFactory) -> SmtpSink:
    sink = await smtp_server_factory()
    changes = {"from_address": FROM_ADDRESS, "hostname": HOST, "port": sink.port, "encryption": "none"}
    await container.settings.save(changes, actor="tests")
    return sink


async def test_sendmail_refuses_the_encoded_line_break_with_ex_dataerr(
    container: Container, relay: SmtpSink, app_config: AppConfig
) -> None:
    run = await sendmail(app_config, "-t", stdin=HOSTILE)
    assert run.status == 65, run.stderr
    assert "'From'" in run.stderr and "nothing was queued" in run.stderr
    assert await queued(container) == []


async def test_the_listener_refuses_the_encoded_line_break_with_554(
    container: Container, relay: SmtpSink
) -> None:
    async with (
        SmtpSubmissionListener(container.local_submission, host=HOST) as listener,
        aiosmtplib.SMTP(hostname=HOST, port=listener.port, start_tls=False) as client,
    ):
        await client.ehlo()
        await client.mail("root@localhost")
        await client.rcpt("ops@example.com")
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await client.data(HOSTILE)
    assert refused.value.code == 554 and "'From'" in refused.value.message
    assert await queued(container) == []


async def test_the_relay_receives_no_extra_header_line(
    container: Container, relay: SmtpSink, app_config: AppConfig
) -> None:
    # A harmless encoded comment goes through; a hostile one stored by an older version (it never
    # passed today's check) is sent with its name on one line.
    benign = HOSTILE.replace(INJECTION.encode(), b"=?utf-8?q?Cr=C3=B6n_Daemon?=")
    assert (await sendmail(app_config, "-t", stdin=benign)).status == 0
    now = datetime.now(UTC)
    old = new_outbox_message(
        event_type="local_submission", recipients=["ops@example.com"], subject="backup", text="", html="",
        from_address=FROM_ADDRESS, now=now, policy=RetryPolicy(lifetime=timedelta(hours=1)),
    )  # fmt: skip
    raw = HOSTILE.decode().replace("\r\n\r\n", f"\r\nMessage-ID: {old.message_id}\r\n\r\n")
    await outbox(container).enqueue(dataclasses.replace(old, source="sendmail", raw=raw))

    assert await deliver_all(container) == 2

    assert len(relay.messages) == 2
    for received in relay.messages:
        names = header_names(received.content)
        assert "X-Injected" not in names and names.count("From") == 1, received.content
        assert received.message["From"].addresses[0].addr_spec == FROM_ADDRESS
    names = {received.message["From"].addresses[0].display_name for received in relay.messages}
    assert names == {"Crön Daemon", "Cron From: ceo@victim.example X-Injected: 1"}
