"""Header values that cannot break a header apart: checked after decoding, where the danger is.

A header line ends at CR LF on the wire, and Python's `email` package also splits at the other
characters `str.splitlines()` knows when it folds. A value that holds one of them, or a NUL, once
its RFC 2047 encoded words (in a phrase, a display name or a comment) are decoded could be written
back as a header line that nobody meant to write (`From: ceo@victim.example`, `X-Injected: 1`).
"""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.header import decode_header
from email.message import Message

__all__ = ["BREAKING_CHARACTERS", "breaking_character", "decoded_text", "single_line", "unsafe_header"]

# CR, LF and NUL, plus the other line boundaries of str.splitlines().
BREAKING_CHARACTERS = "\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_BREAKING = re.compile(f"[{re.escape(BREAKING_CHARACTERS)}]")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[QqBb]\?[^?\s]*\?=")


def breaking_character(text: str) -> str | None:
    """The first character of `text` that may end a header line, as `repr` shows it, or None."""
    found = _BREAKING.search(text)
    return repr(found.group()) if found else None


def single_line(text: str) -> str:
    """`text` with every run of line-breaking characters made one space; other text kept."""
    return re.sub(f"[{re.escape(BREAKING_CHARACTERS)}]+", " ", text)


def decoded_text(value: str) -> str:
    """`value` with its encoded words decoded (a comment's text, which the parser leaves as is).

    A word that cannot be decoded is kept as written, as RFC 2047 (6.3) says to show it."""
    return _ENCODED_WORD.sub(_shown, value)


def _shown(word: re.Match[str]) -> str:
    decoded = _decoded_word(word.group())
    return word.group() if decoded is None else decoded


def unsafe_header(message: Message) -> tuple[str, str] | None:
    """The first header (name, character) that holds a breaking character once decoded, or None.

    Folding (CR LF before a space or tab) is how a long header continues, so it is allowed in the
    raw value; nothing else that ends a line is, neither raw nor in a decoded encoded word.
    """
    for name, value in message.raw_items():
        unfolded = _FOLD.sub("", str(value))
        for text in (unfolded, *_decoded_words(unfolded)):
            character = breaking_character(text)
            if character is not None:
                return name, character
    return None


def _decoded_words(value: str) -> list[str]:
    """The text of each valid encoded word of `value` (an invalid one stays as written: plain text)."""
    decoded = (_decoded_word(word) for word in _ENCODED_WORD.findall(value))
    return [text for text in decoded if text is not None]


def _decoded_word(word: str) -> str | None:
    """The text one encoded word stands for; None when it is not a valid one."""
    try:
        parts = decode_header(word)
    except (HeaderParseError, ValueError):
        return None
    return "".join(
        data.decode(_codec(charset), "replace") if isinstance(data, bytes) else data
        for data, charset in parts
    )


def _codec(charset: str | None) -> str:
    name = (charset or "ascii").split("*")[0]  # RFC 2231 language suffix: utf-8*en
    try:
        "".encode(name)
    except LookupError:
        return "latin-1"
    return name
