"""`alertmail oauth sign-in --device` as an administrator runs it: the real command in its own
process, the real authorization server (oidc-provider's device flow and pages), a real XOAUTH2
relay; Ctrl-C, and a cancel from another process on the same database."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator

import pytest

from alertmail.composition import open_container
from alertmail.config import AppConfig
from alertmail.domain import messages
from alertmail.interfaces.cli.device_sign_in import INTERRUPTED
from alertmail.services.oauth_device_signin import CANCELLED, DeviceSignInBusyError
from tests.support.app import Cli
from tests.support.oauth_server import LOGIN, DeviceOptions, OAuthServer, relay_for
from tests.support.oauth_settings import REDIRECT_URI, device_settings
from tests.support.smtp import SmtpServerFactory, SmtpSink


async def configure(
    cli: Cli, server: OAuthServer, sink: SmtpSink, pem: str, device: DeviceOptions | None = None
) -> None:
    client = await server.register_client([REDIRECT_URI], device=device or DeviceOptions(poll_interval=1))
    fields = {
        name: value
        for name, value in device_settings(server, client, sink, pem).items()
        if name != "client_secret"
    }
    args = [f"{name}={value}" for name, value in fields.items()]
    done = await cli.run("settings", "set", *args, "client_secret=-", stdin=client.client_secret + "\n")
    assert done.returncode == 0, done.stderr


class DeviceSignIn:
    """`alertmail oauth sign-in --device`, read line by line while it waits."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    @classmethod
    async def start(cls, cli: Cli) -> DeviceSignIn:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "alertmail", "oauth", "sign-in", "--device",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=cli.env(),
        )  # fmt: skip
        return cls(process)

    async def address_with_code(self) -> str:
        """The `verification_uri_complete` it printed, once it is waiting."""
        line = await self.line_starting("(or open ")
        return line.removeprefix("(or open ").split(",")[0]

    async def line_starting(self, prefix: str) -> str:
        assert self.process.stdout is not None
        while True:
            line = (await asyncio.wait_for(self.process.stdout.readline(), timeout=60)).decode()
            assert line, f"the sign-in ended before printing {prefix!r}: " + "".join(self.lines)
            self.lines.append(line)
            if line.startswith(prefix):
                return line

    async def finish(self) -> tuple[int, str, str]:
        out, err = await asyncio.wait_for(self.process.communicate(), timeout=60)
        assert self.process.returncode is not None
        return self.process.returncode, "".join(self.lines) + out.decode(), err.decode()


@pytest.fixture
async def signing_in(
    cli: Cli, oauth_server: OAuthServer, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> AsyncIterator[tuple[DeviceSignIn, str, SmtpSink]]:
    sink, _ = await relay_for(smtp_server_factory, oauth_server)
    await configure(cli, oauth_server, sink, tls_ca_pem)
    started = await DeviceSignIn.start(cli)
    try:
        yield started, await started.address_with_code(), sink
    finally:
        if started.process.returncode is None:  # the test failed before the command ended
            started.process.kill()
            await started.process.wait()


async def test_sign_in_with_a_code_then_send(
    cli: Cli, oauth_server: OAuthServer, signing_in: tuple[DeviceSignIn, str, SmtpSink]
) -> None:
    process, address, sink = signing_in

    await oauth_server.approve_device(address, login=LOGIN)
    code, out, err = await process.finish()

    assert code == 0, err
    assert out.startswith(f"To sign in, open {oauth_server.issuer}/device on any device and enter the code:")
    assert messages.AUTHORIZATION_COMPLETE in out and f"Signed in as {LOGIN}" in out
    sent = await cli.run("test-email", "--to", "ops@example.com")
    assert sent.returncode == 0, sent.stderr
    assert [m.authenticated_as for m in sink.messages] == [LOGIN]


async def test_a_slow_down_is_said_once_with_the_new_interval(
    cli: Cli, oauth_server: OAuthServer, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> None:
    sink, _ = await relay_for(smtp_server_factory, oauth_server)
    # The second poll comes 1 s after the first: slow_down; then every 6 s, which is slow enough.
    await configure(cli, oauth_server, sink, tls_ca_pem, DeviceOptions(poll_interval=1, min_poll_gap=1.5))
    process = await DeviceSignIn.start(cli)
    address = await process.address_with_code()
    said = await process.line_starting("The provider asked")
    await asyncio.sleep(7)  # the next poll: pending again, and nothing more is printed for it

    await oauth_server.approve_device(address, login=LOGIN)
    code, out, err = await process.finish()

    assert code == 0, err
    assert said == "The provider asked alertmail to poll less often (slow_down): now every 6 seconds.\n"
    assert out.count("slow_down") == 1 and "pending" not in out  # one line, nothing per poll
    assert messages.AUTHORIZATION_COMPLETE in out


async def test_ctrl_c_cancels_cleanly(cli: Cli, signing_in: tuple[DeviceSignIn, str, SmtpSink]) -> None:
    process, _, _ = signing_in

    process.process.send_signal(signal.SIGINT)
    code, out, err = await process.finish()

    assert code == 1
    assert INTERRUPTED in out + err and "Traceback" not in err
    async with open_container(AppConfig(data_dir=cli.data_dir)) as container:
        stopped = await container.oauth_device_sign_in.current()
        assert stopped is not None and stopped.status == "cancelled"


async def test_another_process_sees_it_in_progress_and_can_cancel_it(
    cli: Cli, signing_in: tuple[DeviceSignIn, str, SmtpSink]
) -> None:
    process, _, _ = signing_in

    async with open_container(AppConfig(data_dir=cli.data_dir)) as container:
        with pytest.raises(DeviceSignInBusyError):
            await container.oauth_device_sign_in.start("admin")
        assert await container.oauth_device_sign_in.cancel()
    code, out, err = await process.finish()

    assert code == 1
    assert CANCELLED in out + err


async def test_google_is_refused_from_the_command_line(cli: Cli) -> None:
    fields = {
        "from_address": "relay@example.com",
        "auth_type": "oauth2",
        "oauth_provider": "google",
        "client_id": "1234567890-alertmail.apps.googleusercontent.com",
        "username": "relay@example.com",
        "redirect_uri": REDIRECT_URI,
    }
    assert (await cli.run("settings", "set", *[f"{k}={v}" for k, v in fields.items()])).returncode == 0

    done = await cli.run("oauth", "sign-in", "--device")

    assert done.returncode == 1
    assert "oauth_provider: cannot sign in with a code for Google" in done.stderr
    assert "Invalid device flow scope" in done.stderr
