"""Legacy local senders: `alertmail sendmail` as a real process, the loopback SMTP listener as a real
server, and both delivered by the worker through a relay that requires STARTTLS and AUTH."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email import message_from_string, policy
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from aiosmtpd.smtp import MISSING, Envelope, Session

from alertmail.adapters.secret_box import FernetSecretBox
from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.outbox_repository import SqlOutboxRepository
from alertmail.adapters.storage.repositories import SqlSettingsRepository
from alertmail.composition import Container
from alertmail.config import AppConfig
from alertmail.domain.outbox import OutboxMessage, RetryPolicy
from alertmail.interfaces.api.app import create_app
from alertmail.interfaces.smtp_listener import (
    ListenerConfigurationError,
    SmtpSubmissionListener,
    SubmissionHandler,
    configured_listener,
    is_loopback,
)
from alertmail.services.local_submission import LocalSubmissionService
from tests.support.smtp import HOST, SmtpServerFactory

FROM_ADDRESS = "alerts@appliance.example.com"
BIN = Path(sys.executable).parent
ALL_INTERFACES = "0.0.0.0"  # noqa: S104  (what the listener must refuse to bind)

CRON_MESSAGE = b"""\
From: root (Cron Daemon)
To: ops@example.com
Subject: Cron <root@appliance> /usr/local/bin/backup

backup: 3 warnings
"""

REPORT = b"""\
From: Backup job <backup@host.example.net>
To: Ops <ops@example.com>, dev@example.com
Cc: lead@example.com
Bcc: Auditor <audit@example.com>
Subject: Backup finished: 3 warnings

The nightly backup finished.
.
This line follows a line with a single dot.
"""


@dataclass
class Run:
    status: int
    stdout: str
    stderr: str


async def run_program(data_dir: Path, *command: str, stdin: bytes, env: dict[str, str] | None = None) -> Run:
    """Run an installed program of the venv (`alertmail sendmail ...`) as the shell would."""
    environment = {**os.environ, "ALERTMAIL_DATA_DIR": str(data_dir), **(env or {})}
    if env is None or "ALERTMAIL_DATABASE_URL" not in env:
        environment.pop("ALERTMAIL_DATABASE_URL", None)
    process = await asyncio.create_subprocess_exec(
        str(BIN / command[0]), *command[1:],
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=environment,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def sendmail(config: AppConfig, *args: str, stdin: bytes, program: str = "alertmail") -> Run:
    command = ("alertmail", "sendmail", *args) if program == "alertmail" else (program, *args)
    return await run_program(config.data_dir, *command, stdin=stdin)


def outbox(container: Container) -> SqlOutboxRepository:
    return SqlOutboxRepository(container.database.sessionmaker, dialect=container.database.dialect)


async def queued(container: Container) -> list[OutboxMessage]:
    return await outbox(container).list()


def stored(message: OutboxMessage) -> EmailMessage:
    assert message.raw is not None
    return message_from_string(message.raw, policy=policy.default)


@pytest.fixture
async def configured(container: Container, refused_port: int) -> Container:
    """Saved settings (the From address names the Message-ID's domain); nothing is sent here."""
    changes = {"from_address": FROM_ADDRESS, "hostname": HOST, "port": refused_port, "encryption": "none"}
    await container.settings.save(changes, actor="tests")
    return container


# --- alertmail sendmail -----------------------------------------------------------------------------


async def test_sendmail_t_i_queues_for_the_header_recipients_and_the_arguments(
    configured: Container, app_config: AppConfig
) -> None:
    run = await sendmail(app_config, "-t", "-i", "boss@example.com", stdin=REPORT)
    assert (run.status, run.stdout, run.stderr) == (0, "", "")

    [message] = await queued(configured)
    assert message.status == "queued" and message.source == "sendmail"
    assert message.event_type == "local_submission"
    assert message.recipients == (
        "boss@example.com",
        "ops@example.com",
        "dev@example.com",
        "lead@example.com",
        "audit@example.com",
    )
    assert message.subject == "Backup finished: 3 warnings"
    email = stored(message)
    assert email["Message-ID"].strip() == message.message_id
    assert message.message_id.endswith("@appliance.example.com>")
    assert email["Date"] and "Bcc" not in email and "audit@example.com" not in (message.raw or "")
    assert email.get_content().endswith(".\nThis line follows a line with a single dot.\n"), "-i keeps it"


async def test_without_i_a_line_with_a_single_dot_ends_the_message(
    configured: Container, app_config: AppConfig
) -> None:
    run = await sendmail(app_config, "ops@example.com", stdin=REPORT)
    assert run.status == 0, run.stderr
    [message] = await queued(configured)
    assert stored(message).get_content() == "The nightly backup finished.\n"
    assert message.recipients == ("ops@example.com",), "without -t the headers name no one"


async def test_cron_is_queued_as_cron_calls_it(configured: Container, app_config: AppConfig) -> None:
    """cronie's own command line, and its message with the old `root (Cron Daemon)` From."""
    flags = ("-FCronDaemon", "-i", "-B8BITMIME", "-odi", "-oem", "-oi", "-t", "-f", "root")
    run = await sendmail(app_config, *flags, stdin=CRON_MESSAGE)
    assert run.status == 0, run.stderr
    [message] = await queued(configured)
    assert message.recipients == ("ops@example.com",)
    assert message.subject == "Cron <root@appliance> /usr/local/bin/backup"


async def test_the_alertmail_sendmail_program_is_the_same_command(
    configured: Container, app_config: AppConfig
) -> None:
    """`alertmail-sendmail` is the one to link as /usr/sbin/sendmail."""
    run = await sendmail(app_config, "-t", "-oi", stdin=REPORT, program="alertmail-sendmail")
    assert run.status == 0, run.stderr
    [message] = await queued(configured)
    assert message.source == "sendmail" and len(message.recipients) == 4


async def test_v_says_what_was_queued(configured: Container, app_config: AppConfig) -> None:
    run = await sendmail(app_config, "-v", "ops@example.com", stdin=CRON_MESSAGE)
    [message] = await queued(configured)
    assert run.status == 0
    assert f"queued {message.id} (Message-ID {message.message_id}) for ops@example.com" in run.stderr


@pytest.mark.parametrize(
    ("args", "message", "problem"),
    [
        (["-x", "ops@example.com"], REPORT, "unknown option -x"),
        (["-bs"], REPORT, "-bs is not supported"),
        (["-t", "-f"], REPORT, "-f needs a value"),
        ([], REPORT, "no recipients: name them as arguments, or use -t"),
        (["-t"], b"Subject: nobody to send to\n\nbody\n", "no recipients: the message has no To, Cc or Bcc"),
    ],
)
async def test_usage_errors_exit_64_and_queue_nothing(
    configured: Container, app_config: AppConfig, args: list[str], message: bytes, problem: str
) -> None:
    run = await sendmail(app_config, *args, stdin=message)
    assert run.status == 64
    assert problem in run.stderr
    assert await queued(configured) == []


@pytest.mark.parametrize(
    ("args", "message", "problem"),
    [
        (["root"], REPORT, "'root' is not a valid recipient: it has no @domain"),
        (
            ["-t"],
            REPORT.replace(b"Cc: lead@example.com", b"Cc: lead@@example.com"),
            "(in the header 'Cc: lead@@example.com')",
        ),
        (["ops@example.com"], b"\n\n", "the message is empty"),
    ],
)
async def test_a_bad_address_or_message_exits_65_and_queues_nothing(
    configured: Container, app_config: AppConfig, args: list[str], message: bytes, problem: str
) -> None:
    run = await sendmail(app_config, *args, stdin=message)
    assert run.status == 65
    assert problem in run.stderr and "nothing was queued" in run.stderr
    assert await queued(configured) == []


async def test_help_exits_0(app_config: AppConfig) -> None:
    run = await sendmail(app_config, "--help", stdin=b"")
    assert run.status == 0 and run.stdout.startswith("usage: alertmail sendmail [-t] [-i] [-f FROM]")


async def test_an_unreachable_database_exits_75(tmp_path: Path, refused_port: int) -> None:
    """EX_TEMPFAIL: the calling program may try again later; nothing was accepted."""
    url = f"postgresql://alertmail@127.0.0.1:{refused_port}/alertmail"
    run = await run_program(
        tmp_path / "data", "alertmail", "sendmail", "ops@example.com",
        stdin=CRON_MESSAGE, env={"ALERTMAIL_DATABASE_URL": url},
    )  # fmt: skip
    assert run.status == 75
    assert "the queue cannot be reached" in run.stderr and "nothing was queued" in run.stderr


async def test_a_bad_setting_exits_78(tmp_path: Path) -> None:
    env = {"ALERTMAIL_SMTP_LISTENER_PORT": "smtp"}
    run = await run_program(tmp_path, "alertmail", "sendmail", "ops@example.com", stdin=CRON_MESSAGE, env=env)
    assert (
        run.status == 78
        and "the configuration is invalid" in run.stderr
        and "smtp_listener_port" in run.stderr
    )


async def test_an_unusable_data_directory_exits_75(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    run = await run_program(blocker / "data", "alertmail", "sendmail", "ops@example.com", stdin=CRON_MESSAGE)
    assert run.status == 75 and "the queue cannot be reached" in run.stderr


# --- the SMTP listener ------------------------------------------------------------------------------


@pytest.fixture
async def listener(configured: Container) -> AsyncIterator[SmtpSubmissionListener]:
    async with SmtpSubmissionListener(configured.local_submission, host=HOST, port=0) as running:
        yield running


def local_message(**headers: str) -> EmailMessage:
    message = EmailMessage()
    for name, value in {
        "From": "Monitor <monitor@host.example.net>",
        "Subject": "Load high",
        **headers,
    }.items():
        message[name] = value
    message.set_content("load average 12.5\n")
    return message


async def test_the_listener_queues_what_a_local_program_submits(
    configured: Container, listener: SmtpSubmissionListener
) -> None:
    message = local_message(To="ops@example.com", Bcc="audit@example.com")
    response = await aiosmtplib.send(
        message,
        hostname=HOST,
        port=listener.port,
        sender="monitor@host.example.net",
        recipients=["ops@example.com", "audit@example.com"],
        start_tls=False,
    )
    [queued_message] = await queued(configured)
    assert response[1] == f"2.0.0 Queued as {queued_message.id}"
    assert queued_message.source == "smtp-listener" and queued_message.status == "queued"
    assert queued_message.recipients == ("ops@example.com", "audit@example.com"), "RCPT TO, not the headers"
    email = stored(queued_message)
    assert "Bcc" not in email and email["Message-ID"].strip() == queued_message.message_id
    assert queued_message.subject == "Load high"


async def test_the_listener_offers_no_auth_and_states_its_size_limit(
    listener: SmtpSubmissionListener,
) -> None:
    async with aiosmtplib.SMTP(hostname=HOST, port=listener.port, start_tls=False) as client:
        await client.ehlo()
        assert not client.supports_extension("auth")
        assert client.esmtp_extensions["size"] == str(25 * 1024 * 1024)


async def test_the_listener_refuses_a_bad_recipient_at_rcpt(
    configured: Container, listener: SmtpSubmissionListener
) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await aiosmtplib.send(
            local_message(To="root"), hostname=HOST, port=listener.port, recipients=["root"], start_tls=False
        )
    [reply] = refused.value.recipients
    assert reply.code == 553 and "'root' is not a valid recipient: it has no @domain" in reply.message
    assert await queued(configured) == []


async def test_the_listener_refuses_a_message_over_the_limit(configured: Container) -> None:
    small = SmtpSubmissionListener(configured.local_submission, host=HOST, max_bytes=2000)
    async with small:
        message = local_message(To="ops@example.com")
        message.set_content("x" * 5000 + "\n")
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await aiosmtplib.send(message, hostname=HOST, port=small.port, start_tls=False)
    assert refused.value.code == 552
    assert await queued(configured) == []


async def test_the_listener_refuses_an_empty_message(
    configured: Container, listener: SmtpSubmissionListener
) -> None:
    async with aiosmtplib.SMTP(hostname=HOST, port=listener.port, start_tls=False) as client:
        await client.ehlo()
        await client.mail("monitor@host.example.net")
        await client.rcpt("ops@example.com")
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await client.data(b"\r\n")
    assert refused.value.code == 554 and "the message is empty; nothing was queued" in refused.value.message
    assert await queued(configured) == []


async def test_the_listener_answers_451_when_the_queue_cannot_be_reached(
    secret_key_file: Path, refused_port: int
) -> None:
    """A 4xx, so that the local program keeps its message and tries again later."""
    async with Database.from_url(f"postgresql+psycopg://alertmail@127.0.0.1:{refused_port}/x") as down:
        sessions = down.sessionmaker
        unreachable = LocalSubmissionService(
            SqlOutboxRepository(sessions, dialect="postgresql"),
            SqlSettingsRepository(sessions, FernetSecretBox.from_key_file(secret_key_file)),
            policy=RetryPolicy(),
            max_bytes=100_000,
        )
        async with SmtpSubmissionListener(unreachable, host=HOST) as failing:
            with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                await aiosmtplib.send(
                    local_message(To="ops@example.com"), hostname=HOST, port=failing.port, start_tls=False
                )
    assert refused.value.code == 451 and "try again later" in refused.value.message


async def test_clients_that_are_not_loopback_are_refused(configured: Container) -> None:
    """The listener asks for no password: only this machine may use it."""
    handler = SubmissionHandler(configured.local_submission)
    session = Session(asyncio.get_running_loop())
    session.peer = ("192.0.2.7", 40123)
    reply = await handler.handle_MAIL(None, session, Envelope(), "x@example.net", [])  # type: ignore[arg-type]
    assert (
        reply == "550 5.7.1 alertmail accepts mail here only from this machine (loopback); 192.0.2.7 is not"
    )
    session.peer = ("::1", 40123, 0, 0)
    assert await handler.handle_MAIL(None, session, Envelope(), "x@example.net", []) is MISSING  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.10.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        (ALL_INTERFACES, False),
        ("::", False),
        ("192.0.2.7", False),
        ("::ffff:192.0.2.7", False),
        ("mail.example.com", False),
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("host", [ALL_INTERFACES, "::", "192.0.2.7", "appliance.example.com"])
async def test_the_listener_will_not_listen_on_other_addresses(configured: Container, host: str) -> None:
    with pytest.raises(ListenerConfigurationError, match="listens only on a loopback address"):
        SmtpSubmissionListener(configured.local_submission, host=host)


async def test_a_port_in_use_is_a_clear_error(configured: Container) -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ListenerConfigurationError, match=f"cannot listen on {HOST} port {port}"):
            await SmtpSubmissionListener(configured.local_submission, host=HOST, port=port).start()


async def test_stopping_ends_open_sessions(listener: SmtpSubmissionListener) -> None:
    client = aiosmtplib.SMTP(hostname=HOST, port=listener.port, start_tls=False)
    await client.connect()
    await client.ehlo()
    await asyncio.wait_for(listener.stop(), timeout=10)
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await client.noop()
    client.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


async def test_the_listener_is_off_unless_configured(container: Container) -> None:
    async with configured_listener(container.config, container.local_submission) as running:
        assert running is None


async def test_serve_runs_the_listener_when_configured(tmp_path: Path) -> None:
    port = free_port()
    config = AppConfig(data_dir=tmp_path / "serve", smtp_listener_port=port, worker=False)
    app = create_app(config)
    async with app.router.lifespan_context(app):
        await aiosmtplib.send(local_message(To="ops@example.com"), hostname=HOST, port=port, start_tls=False)
        container: Container = app.state.container
        [message] = await queued(container)
        assert message.source == "smtp-listener"
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await aiosmtplib.send(local_message(To="ops@example.com"), hostname=HOST, port=port, start_tls=False)


# --- end to end -------------------------------------------------------------------------------------


async def deliver_all(container: Container) -> int:
    handled = 0
    while count := await container.delivery_worker.run_once():
        handled += count
    return handled


async def test_sendmail_and_the_listener_deliver_through_a_relay_requiring_starttls_and_auth(
    container: Container,
    app_config: AppConfig,
    smtp_server_factory: SmtpServerFactory,
    tls_ca_pem: str,
) -> None:
    relay = await smtp_server_factory(tls="starttls", require_starttls=True, auth_required=True)
    settings = {
        "from_address": FROM_ADDRESS,
        "hostname": HOST,
        "port": relay.port,
        "encryption": "starttls",
        "auth_type": "basic",
        "username": "relay-user",
        "password": "relay-password",
        "tls_trusted_ca": tls_ca_pem,
    }
    await container.settings.save(settings, actor="tests")

    run = await sendmail(app_config, "-t", "-i", stdin=REPORT)
    assert run.status == 0, run.stderr
    async with SmtpSubmissionListener(container.local_submission, host=HOST) as listener:
        await aiosmtplib.send(
            local_message(To="ops@example.com"), hostname=HOST, port=listener.port, start_tls=False
        )
    by_source = {message.source: message for message in await queued(container)}
    assert set(by_source) == {"sendmail", "smtp-listener"}

    assert await deliver_all(container) == 2

    received = {message.message["Message-ID"].strip(): message for message in relay.messages}
    assert len(relay.messages) == 2, "each message delivered once"
    assert set(received) == {m.message_id for m in by_source.values()}, "Message-IDs kept"
    for source, expected_recipients, original_from in (
        ("sendmail", by_source["sendmail"].recipients, "Backup job <backup@host.example.net>"),
        ("smtp-listener", ("ops@example.com",), "Monitor <monitor@host.example.net>"),
    ):
        got = received[by_source[source].message_id]
        assert got.tls and got.authenticated_as == "relay-user"
        assert got.mail_from == FROM_ADDRESS
        assert got.rcpt_tos == expected_recipients
        assert got.message["From"].addresses[0].addr_spec == FROM_ADDRESS
        assert got.message["Reply-To"] == original_from
        assert "Bcc" not in got.message
    assert relay.auth_before_tls is False
    assert {m.status for m in await queued(container)} == {"sent"}
