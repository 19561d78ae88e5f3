"""`alertmail serve`'s options read without Typer mean what Typer reads them to mean.

serve_start.plain_options reads `--host` and `--port` itself so the server starts without the
command-line framework; for anything it is unsure of it answers None and Typer parses instead.
Whenever it does answer, Click (given the Typer command itself) must read the same host and port.
"""

from __future__ import annotations

from typing import Any

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

from alertmail.interfaces.cli.command_index import single_command
from alertmail.interfaces.cli.serve_command import serve
from alertmail.interfaces.cli.serve_start import plain_options

COMMAND = single_command(serve, "serve")


def click_reads(args: list[str]) -> tuple[str, int] | None:
    """Host and port as Typer's Click parses `args` for the Typer command; None where it refuses them."""
    try:
        context: Any = COMMAND.make_context("serve", list(args), resilient_parsing=False)
    except (typer.TyperException, typer.Exit):  # Typer's Click: a usage error, or --help shown
        return None
    return context.params["host"], context.params["port"]


@pytest.mark.parametrize(
    ("args", "read"),
    [
        ([], ("127.0.0.1", 8025)),
        (["--port", "9000"], ("127.0.0.1", 9000)),
        (["--port=9000", "--host", "192.0.2.7"], ("192.0.2.7", 9000)),
        (["--host", "::1", "--host=192.0.2.1"], ("192.0.2.1", 8025)),  # the last one wins
        (["--host="], ("", 8025)),
        (["--port", " 80"], ("127.0.0.1", 80)),
        (["--port", "0080"], ("127.0.0.1", 80)),
    ],
)
def test_plain_options_are_read_as_click_reads_them(args: list[str], read: tuple[str, int]) -> None:
    assert plain_options(args) == read == click_reads(args)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--port", "abc"],
        ["--port"],
        ["--host", "--port", "1"],
        ["--hostname", "x"],
        ["-h"],
        ["extra"],
        ["--port", "-1"],
    ],
)
def test_anything_else_is_left_to_typer(args: list[str]) -> None:
    assert plain_options(args) is None


names = st.sampled_from(["--host", "--port", "--help", "-p", "--", "x"])
awkward = ["0", "8025", " 80", "-5", "+5", "٣", "²", "1_0", ""]
values = st.one_of(st.sampled_from(awkward), st.text(max_size=5))
# An option and its value as two arguments or one (`--port=9000`), or an argument alone.
option = st.one_of(
    st.tuples(names, values).map(list),
    st.builds("{}={}".format, names, values).map(lambda token: [token]),
    names.map(lambda name: [name]),
)
arguments = st.lists(option, max_size=4).map(lambda parts: [token for part in parts for token in part])


@given(arguments)
def test_whenever_plain_options_answer_click_reads_the_same(args: list[str]) -> None:
    read = plain_options(args)
    if read is not None:
        assert click_reads(args) == read
