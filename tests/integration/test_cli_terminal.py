"""Terminal escapes from a relay never reach the administrator's terminal (#13 item 7): a real
aiosmtpd answers with ESC sequences, and `alertmail test-email` and `alertmail logs` show them
escaped."""

from __future__ import annotations

from tests.support.app import Cli
from tests.support.smtp import SmtpServerFactory

# Clear the screen and retitle the window (aiosmtpd replies are ASCII, as SMTP's are).
REPLY = "554 5.7.1 \x1b[2J\x1b]0;owned\x07 rejected"


async def test_relay_reply_escapes_are_escaped_in_test_email_and_logs(
    cli: Cli, smtp_server_factory: SmtpServerFactory
) -> None:
    sink = await smtp_server_factory(data_reply=REPLY)
    created = await cli.run(
        "admin", "create", "root", "--email", "root@example.com", "--password-stdin", stdin="long-enough-pw\n"
    )
    assert created.returncode == 0, created.stderr
    saved = await cli.run(
        "settings", "set", "from_address=alerts@example.com", "hostname=127.0.0.1", f"port={sink.port}",
        "encryption=none",
    )  # fmt: skip
    assert saved.returncode == 0, saved.stderr

    failed = await cli.run("test-email")
    logs = await cli.run("logs")

    assert failed.returncode == 1
    for output in (failed.stderr, logs.stdout):
        assert "\\x1b[2J\\x1b]0;owned\\x07" in output, output
        assert "\x1b" not in output and "\x07" not in output
    assert sink.commands[-1].verb in ("DATA", "QUIT", "RSET")  # the reply really was sent
