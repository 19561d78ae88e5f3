"""`alertmail serve` as a Typer command: its help, and options that are not plain.

Plain options start the server without Typer (serve_start.py); this answers `--help`, an unknown
option or a bad value as every other command does, then starts the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer

from alertmail.errors import AlertmailError
from alertmail.interfaces.cli.command_index import single_command
from alertmail.interfaces.cli.help_style import plain_help
from alertmail.interfaces.cli.runtime import fail, fail_with
from alertmail.interfaces.cli.serve_start import DEFAULT_HOST, DEFAULT_PORT, start

__all__ = ["main", "serve"]


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
) -> None:
    """Serve the web UI and the REST API on http://HOST:PORT, and deliver queued mail."""
    try:
        start(host, port)
    except AlertmailError as problem:
        fail_with(problem)


def main(args: Sequence[str]) -> None:
    """`alertmail serve ARGS`, the command alone."""
    try:
        plain_help(single_command(serve, "serve"))(args=list(args), prog_name="alertmail serve")
    except KeyboardInterrupt:
        fail("interrupted")
