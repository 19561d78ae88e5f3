"""`alertmail oauth sign-in` as an administrator runs it: the real command, the real authorization
server, and either the address pasted back or the callback arriving at `alertmail serve`."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator

import httpx
import pytest

from alertmail.domain import messages
from tests.support.app import Cli
from tests.support.oauth_server import LOGIN, OAuthClientRegistration, OAuthServer, relay_for
from tests.support.smtp import SmtpServerFactory, SmtpSink

UNREACHABLE_REDIRECT = "http://127.0.0.1:9/login/smtp-verification"  # nothing listens on port 9


async def configure(
    cli: Cli,
    server: OAuthServer,
    client: OAuthClientRegistration,
    sink: SmtpSink,
    pem: str,
    redirect_uri: str,
) -> None:
    fields = {
        "from_address": LOGIN,
        "hostname": "127.0.0.1",
        "port": str(sink.port),
        "encryption": "starttls",
        "tls_trusted_ca": pem,
        "auth_type": "oauth2",
        "oauth_provider": "custom",
        "client_id": client.client_id,
        "authorization_endpoint": server.authorization_endpoint,
        "token_endpoint": server.token_endpoint,
        "scopes": "openid offline_access email smtp.send",
        "redirect_uri": redirect_uri,
        "username": LOGIN,
    }
    args = [f"{name}={value}" for name, value in fields.items()]
    done = await cli.run("settings", "set", *args, "client_secret=-", stdin=client.client_secret + "\n")
    assert done.returncode == 0, done.stderr


class SignInProcess:
    """`alertmail oauth sign-in --no-browser`, read line by line while it waits."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def authorization_url(self) -> str:
        assert self.process.stdout is not None
        while True:
            line = (await asyncio.wait_for(self.process.stdout.readline(), timeout=60)).decode()
            assert line, "sign-in ended before printing the address: " + "".join(self.lines)
            self.lines.append(line)
            if line.startswith("http"):
                return line.strip()

    async def paste(self, url: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(url.encode() + b"\n")
        await self.process.stdin.drain()

    async def finish(self) -> tuple[int, str, str]:
        out, err = await asyncio.wait_for(self.process.communicate(), timeout=60)
        assert self.process.returncode is not None
        return self.process.returncode, "".join(self.lines) + out.decode(), err.decode()


async def start_sign_in(cli: Cli, env: dict[str, str] | None = None) -> SignInProcess:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "alertmail", "oauth", "sign-in", "--no-browser",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env or cli.env(),
    )  # fmt: skip
    return SignInProcess(process)


@pytest.fixture
async def pasting(
    cli: Cli, oauth_server: OAuthServer, smtp_server_factory: SmtpServerFactory, tls_ca_pem: str
) -> AsyncIterator[tuple[SignInProcess, str, OAuthClientRegistration, SmtpSink]]:
    """A sign-in started from the CLI whose Redirect URI the browser cannot reach."""
    client = await oauth_server.register_client([UNREACHABLE_REDIRECT])
    sink, _ = await relay_for(smtp_server_factory, oauth_server)
    await configure(cli, oauth_server, client, sink, tls_ca_pem, UNREACHABLE_REDIRECT)
    signing_in = await start_sign_in(cli)
    try:
        yield signing_in, await signing_in.authorization_url(), client, sink
    finally:
        if signing_in.process.returncode is None:  # the test failed before the command ended
            signing_in.process.kill()
            await signing_in.process.wait()


async def test_sign_in_by_pasting_the_address_then_send_and_show_status(
    cli: Cli, oauth_server: OAuthServer, pasting: tuple[SignInProcess, str, OAuthClientRegistration, SmtpSink]
) -> None:
    signing_in, url, client, sink = pasting
    await signing_in.paste(await oauth_server.sign_in(url, login=LOGIN))
    code, out, err = await signing_in.finish()

    assert code == 0, err
    assert messages.AUTHORIZATION_COMPLETE in out and f"Signed in as {LOGIN}" in out
    assert UNREACHABLE_REDIRECT in out  # the Redirect URI to register is shown
    sent = await cli.run("test-email", "--to", "ops@example.com")
    assert sent.returncode == 0, sent.stderr
    assert [m.authenticated_as for m in sink.messages] == [LOGIN]
    status = await cli.run("oauth", "status")
    assert "state: valid" in status.stdout and LOGIN in status.stdout
    assert client.client_secret not in out + err + sent.stdout + status.stdout


async def test_a_pasted_address_with_a_provider_error_fails_with_the_reason(
    oauth_server: OAuthServer, pasting: tuple[SignInProcess, str, OAuthClientRegistration, SmtpSink]
) -> None:
    signing_in, url, _, _ = pasting
    await signing_in.paste(await oauth_server.sign_in(url, login=LOGIN, consent=False))
    code, _, err = await signing_in.finish()

    assert code == 1
    assert messages.AUTHORIZATION_FAILED in err and "access_denied" in err and "Fix:" in err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def served(cli: Cli) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """`alertmail serve` on the CLI's data directory, with ALERTMAIL_PUBLIC_URL pointing at it."""
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    env = {**cli.env(), "ALERTMAIL_PUBLIC_URL": public_url}
    cli.data_dir.mkdir(parents=True, exist_ok=True)
    log = (cli.data_dir.parent / "serve.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "alertmail", "serve", "--port", str(port),
        stdout=log, stderr=log, env=env,
    )  # fmt: skip
    try:
        await _wait_until_up(public_url, process)
        yield public_url, env
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=30)
        log.close()


async def _wait_until_up(url: str, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        for _ in range(200):
            if process.returncode is not None:
                raise AssertionError("alertmail serve exited at start")
            try:
                if (await http.get(url + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("alertmail serve did not answer /healthz")


async def test_sign_in_finishes_when_the_browser_comes_back_to_serve(
    cli: Cli,
    served: tuple[str, dict[str, str]],
    oauth_server: OAuthServer,
    smtp_server_factory: SmtpServerFactory,
    tls_ca_pem: str,
) -> None:
    public_url, env = served
    redirect_uri = public_url + "/login/smtp-verification"
    client = await oauth_server.register_client([redirect_uri])
    sink, _ = await relay_for(smtp_server_factory, oauth_server)
    await configure(cli, oauth_server, client, sink, tls_ca_pem, "")

    signing_in = await start_sign_in(cli, env)
    back = await oauth_server.sign_in(await signing_in.authorization_url(), login=LOGIN)
    async with httpx.AsyncClient(trust_env=False) as browser:
        page = await browser.get(back)  # the browser follows the provider's redirect to serve
    code, out, err = await signing_in.finish()

    assert back.startswith(redirect_uri + "?")
    assert page.status_code == 200 and messages.AUTHORIZATION_COMPLETE in page.text
    assert code == 0, err
    assert messages.AUTHORIZATION_COMPLETE in out
