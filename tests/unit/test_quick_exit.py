"""The status a one-shot command leaves with, read from Typer's SystemExit as `sys.exit` would."""

from __future__ import annotations

import pytest

from alertmail.interfaces.cli.quick_exit import status_of


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (1, 1), (2, 2), (75, 75)])
def test_a_numeric_or_missing_code_is_the_status(code: int | None, status: int) -> None:
    assert status_of(SystemExit(code)) == status


def test_a_message_is_printed_and_the_status_is_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert status_of(SystemExit("no such event type")) == 1
    assert capsys.readouterr().err == "no such event type\n"
