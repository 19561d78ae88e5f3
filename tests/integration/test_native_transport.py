"""NativeTransport running real programs: small sendmail stand-ins written to tmp_path."""

from __future__ import annotations

import stat
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from alertmail.adapters.native_transport import NativeTransport
from alertmail.domain.settings import MailSettings, validate_settings
from alertmail.errors import NativeTransportError
from tests.support.smtp import alert_message

ADMIN = "admin@example.com"
OPS = "ops@example.com"


@pytest.fixture
def settings() -> MailSettings:
    return validate_settings({"from_address": "alerts@example.com", "email_type": "native"})


def stand_in(tmp_path: Path, body: str) -> Path:
    """An executable shell script standing in for sendmail."""
    program = tmp_path / "sendmail"
    program.write_text(f"#!/bin/sh\n{body}\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program


@pytest.fixture
def recording_sendmail(tmp_path: Path) -> Path:
    """Writes its arguments, one a line, to `argv` and the message it reads to `stdin`."""
    return stand_in(tmp_path, f'printf "%s\\n" "$@" > "{tmp_path}/argv"\ncat > "{tmp_path}/stdin"')


async def test_hands_the_message_to_sendmail_t_oi(
    recording_sendmail: Path, tmp_path: Path, settings: MailSettings
) -> None:
    message = alert_message([ADMIN])

    await NativeTransport(str(recording_sendmail)).send(message, [ADMIN], settings)

    assert (tmp_path / "argv").read_text().splitlines() == ["-t", "-oi", "-falerts@example.com"]
    received = message_from_bytes((tmp_path / "stdin").read_bytes(), policy=policy.default)
    assert received["To"] == ADMIN
    assert received["Subject"] == "Disk almost full"
    assert received["Bcc"] is None


async def test_writes_unix_line_endings_whatever_the_message_policy(
    recording_sendmail: Path, tmp_path: Path, settings: MailSettings
) -> None:
    message = EmailMessage(policy=policy.SMTP)  # CRLF, as the messages alertmail builds
    message["From"] = "alerts@example.com"
    message["To"] = ADMIN
    message["Subject"] = "Disk almost full"
    message.set_content("line one\n.\nline three\n")

    await NativeTransport(str(recording_sendmail)).send(message, [ADMIN], settings)

    written = (tmp_path / "stdin").read_bytes()
    assert b"\r" not in written
    assert written.endswith(b"line one\n.\nline three\n")


async def test_recipients_missing_from_the_headers_are_added_as_bcc(
    recording_sendmail: Path, tmp_path: Path, settings: MailSettings
) -> None:
    message = alert_message([ADMIN])

    await NativeTransport(str(recording_sendmail)).send(message, [ADMIN, OPS], settings)

    received = message_from_bytes((tmp_path / "stdin").read_bytes(), policy=policy.default)
    assert received["To"] == ADMIN
    assert received["Bcc"] == OPS
    assert message["Bcc"] is None  # the caller's message is left alone


async def test_header_naming_someone_who_is_not_a_recipient_is_refused(
    recording_sendmail: Path, tmp_path: Path, settings: MailSettings
) -> None:
    with pytest.raises(ValueError, match=OPS):
        await NativeTransport(str(recording_sendmail)).send(alert_message([ADMIN, OPS]), [ADMIN], settings)

    assert not (tmp_path / "stdin").exists()


async def test_temporary_failure_keeps_exit_code_75_and_stderr(
    tmp_path: Path, settings: MailSettings
) -> None:
    program = stand_in(tmp_path, 'echo "sendmail: cannot connect to the mail queue" >&2\nexit 75')

    with pytest.raises(NativeTransportError) as caught:
        await NativeTransport(str(program)).send(alert_message(), [ADMIN], settings)

    error = caught.value
    assert (error.program, error.exit_code) == (str(program), 75)
    assert error.detail == f"{program} failed with exit code 75: sendmail: cannot connect to the mail queue"


async def test_failure_without_output_keeps_exit_code_1(tmp_path: Path, settings: MailSettings) -> None:
    program = stand_in(tmp_path, "cat > /dev/null\nexit 1")

    with pytest.raises(NativeTransportError) as caught:
        await NativeTransport(str(program)).send(alert_message(), [ADMIN], settings)

    assert caught.value.exit_code == 1
    assert caught.value.detail == f"{program} failed with exit code 1"


async def test_long_error_output_is_cut_to_500_characters(tmp_path: Path, settings: MailSettings) -> None:
    program = stand_in(tmp_path, "printf 'x%.0s' $(seq 2000) >&2\nexit 1")

    with pytest.raises(NativeTransportError) as caught:
        await NativeTransport(str(program)).send(alert_message(), [ADMIN], settings)

    assert caught.value.detail.endswith(": " + "x" * 500)


async def test_missing_program_has_no_exit_code(tmp_path: Path, settings: MailSettings) -> None:
    missing = tmp_path / "no" / "sendmail"

    with pytest.raises(NativeTransportError) as caught:
        await NativeTransport(str(missing)).send(alert_message(), [ADMIN], settings)

    assert (caught.value.program, caught.value.exit_code) == (str(missing), None)
    assert str(missing) in caught.value.detail


async def test_program_that_hangs_is_stopped_after_the_timeout(
    tmp_path: Path, settings: MailSettings
) -> None:
    program = stand_in(tmp_path, "exec sleep 30")

    with pytest.raises(NativeTransportError, match="did not finish within 1 seconds") as caught:
        await NativeTransport(str(program), timeout=1).send(alert_message(), [ADMIN], settings)

    assert caught.value.exit_code is None
