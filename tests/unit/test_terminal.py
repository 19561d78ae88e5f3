"""Terminal-safe CLI output (#13 item 7): control characters from elsewhere are escaped before the
CLI prints them; newline and tab are kept."""

from __future__ import annotations

import io
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from alertmail.interfaces.cli.terminal import terminal_safe
from alertmail.interfaces.cli.terminal_console import TerminalConsole

HOSTILE = "554 5.7.1 \x1b[2J\x1b]0;owned\x07 rejected\u202e\x9b31m\r"


def test_escape_sequences_are_shown_not_obeyed() -> None:
    assert terminal_safe(HOSTILE) == "554 5.7.1 \\x1b[2J\\x1b]0;owned\\x07 rejected\\u202e\\x9b31m\\x0d"


def test_newline_tab_and_ordinary_text_are_kept() -> None:
    text = "Authentication unsuccessful\n\tline two: Grüße, 日本, ✓"
    assert terminal_safe(text) == text


@given(st.text())
def test_nothing_that_steers_a_terminal_is_left(text: str) -> None:
    safe = terminal_safe(text)
    left = {c for c in safe if c not in "\n\t" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs")}
    assert not left
    if text.isprintable():
        assert safe == text


def test_the_console_escapes_what_it_prints() -> None:
    out = io.StringIO()
    TerminalConsole(file=out, markup=False, highlight=False, soft_wrap=True).print(f"reply: {HOSTILE}")
    assert "\x1b" not in out.getvalue() and "\\x1b]0;owned\\x07" in out.getvalue()
