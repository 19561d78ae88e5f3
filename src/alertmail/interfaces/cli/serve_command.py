"""`alertmail serve`: the web UI, the REST API and the delivery worker in one process.

Started on its own (see entry.py), without the other commands' modules: it is what a service
manager restarts, and what it imports it keeps in memory for as long as it runs.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Annotated

import typer

import alertmail
from alertmail.config import AppConfig
from alertmail.interfaces.cli.command_index import single_command
from alertmail.interfaces.cli.help_style import plain_help
from alertmail.interfaces.cli.runtime import console, fail, run

__all__ = ["main", "serve"]


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8025,
) -> None:
    """Serve the web UI and the REST API on http://HOST:PORT, and deliver queued mail."""
    import uvicorn

    from alertmail.interfaces.api.app import create_app

    config = AppConfig()
    admins = run(lambda c: c.administrators.list())
    console.print(f"alertmail {alertmail.__version__} on http://{host}:{port} (data in {config.data_dir})")
    setup_token = None if admins else secrets.token_urlsafe(32)
    if setup_token:
        console.print(
            "No administrator yet. Create the first one in your browser with this one-time link\n"
            "(it works until used, or until alertmail restarts):\n"
            f"  {_setup_link(config, host, port, setup_token)}\n"
            "or on the command line: alertmail admin create USERNAME --email ADDRESS\n"
            "(an API token for scripts: alertmail token create NAME --admin USERNAME)"
        )
    proxies = config.trusted_proxy_list
    uvicorn.run(
        create_app(config, setup_token=setup_token),
        host=host,
        port=port,
        log_level="info",
        # uvicorn believes X-Forwarded-* from 127.0.0.1 unless told otherwise: only named proxies.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies,
    )


def _setup_link(config: AppConfig, host: str, port: int, token: str) -> str:
    if config.public_url:
        base = config.public_url.rstrip("/")
    else:
        # A wildcard address is where the server listens, not where a browser finds it.
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        base = f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"
    return f"{base}/setup?token={token}"


def main(args: Sequence[str]) -> None:
    """`alertmail serve ARGS`, the command alone."""
    try:
        plain_help(single_command(serve, "serve"))(args=list(args), prog_name="alertmail serve")
    except KeyboardInterrupt:
        fail("interrupted")
