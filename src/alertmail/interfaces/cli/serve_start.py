"""`alertmail serve` started without the command-line framework when its options are plain.

A service manager starts `alertmail serve --host H --port P` and restarts it; the server keeps in
memory what it imported for as long as it runs. Typer, Click and Rich (some 50 ms and several MiB)
are loaded only for what needs them: `--help`, an option it does not know or a value that is not
right (serve_command.py answers those as every command does), and an error to print.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import NoReturn

import alertmail
from alertmail.config import AppConfig
from alertmail.errors import AlertmailError
from alertmail.interfaces.cli.terminal import terminal_safe

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "main", "plain_options", "start"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8025


def main(args: Sequence[str]) -> None:
    """`alertmail serve ARGS`."""
    options = plain_options(args)
    if options is None:
        from alertmail.interfaces.cli.serve_command import main as with_typer

        with_typer(args)
        return
    try:
        start(*options)
    except AlertmailError as problem:
        _exit_reporting(problem)
    except KeyboardInterrupt:
        _exit_reporting(AlertmailError("interrupted"))


def plain_options(args: Sequence[str]) -> tuple[str, int] | None:
    """Host and port from `--host H`, `--host=H`, `--port P`, `--port=P` (the last one given wins,
    as in Click); None for anything else, left to Typer to answer."""
    values = {"--host": DEFAULT_HOST, "--port": str(DEFAULT_PORT)}
    rest = list(args)
    while rest:
        name, equals, value = rest.pop(0).partition("=")
        if name not in values:
            return None
        if not equals:
            if not rest or rest[0].startswith("-"):
                return None  # a missing value, or one Click may read otherwise: its message
            value = rest.pop(0)
        values[name] = value
    port = values["--port"].strip()
    if not (port.isascii() and port.isdecimal()):
        return None  # Typer says what is wrong with it
    return values["--host"], int(port)


def start(host: str, port: int) -> None:
    """Serve the web UI and the REST API on http://HOST:PORT, and deliver queued mail."""
    from alertmail.interfaces.cli.http_server import in_server_loop

    in_server_loop(lambda: _serve(AppConfig(), host, port))


async def _serve(config: AppConfig, host: str, port: int) -> None:
    from alertmail.composition import open_container
    from alertmail.interfaces.api.app import OpenedServices, create_app
    from alertmail.interfaces.cli.http_server import serve

    async with AsyncExitStack() as services:  # closed by the application's lifespan, or here
        container = await services.enter_async_context(open_container(config))
        setup_token = None if await container.administrators.list() else secrets.token_urlsafe(32)
        _announce(config, host, port, setup_token)
        proxies = config.trusted_proxy_list
        await serve(
            create_app(config, setup_token=setup_token, services=OpenedServices(container, services.aclose)),
            host=host,
            port=port,
            log_level="info",
            ws="none",  # nothing served speaks WebSocket: its library is not even imported
            # uvicorn believes X-Forwarded-* from 127.0.0.1 unless told otherwise: only named proxies.
            proxy_headers=bool(proxies),
            forwarded_allow_ips=proxies,
        )


def _announce(config: AppConfig, host: str, port: int, setup_token: str | None) -> None:
    _say(f"alertmail {alertmail.__version__} on http://{host}:{port} (data in {config.data_dir})")
    if setup_token:
        _say(
            "No administrator yet. Create the first one in your browser with this one-time link\n"
            "(it works until used, or until alertmail restarts):\n"
            f"  {_setup_link(config, host, port, setup_token)}\n"
            "or on the command line: alertmail admin create USERNAME --email ADDRESS\n"
            "(an API token for scripts: alertmail token create NAME --admin USERNAME)"
        )


def _setup_link(config: AppConfig, host: str, port: int, token: str) -> str:
    if config.public_url:
        base = config.public_url.rstrip("/")
    else:
        # A wildcard address is where the server listens, not where a browser finds it.
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        base = f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"
    return f"{base}/setup?token={token}"


def _say(text: str) -> None:
    print(terminal_safe(text), flush=True)


def _exit_reporting(problem: AlertmailError) -> NoReturn:
    """The error printed as every command prints it (runtime.py, with Rich), then exit status 1."""
    from typer import Exit

    from alertmail.interfaces.cli.runtime import fail_with

    try:
        fail_with(problem)
    except Exit as done:
        sys.exit(done.exit_code)
