"""Text from elsewhere made safe for the administrator's terminal.

Relay replies, provider errors, stored messages and templates may hold control characters: `ESC [`
sequences recolour or clear the screen, `ESC ] 0 ;` retitles the window (and some terminals answer
queries with input of their own), bidirectional overrides reorder what is shown. Each such
character is printed as its escape (`\\x1b`, `\\u202e`); newline and tab are kept. Rich strips only
a few of them itself.
"""

from __future__ import annotations

import unicodedata

# Without Rich: `alertmail sendmail` escapes its messages too, and starts without it.
__all__ = ["terminal_safe"]

_KEPT = frozenset("\n\t")


def terminal_safe(text: str) -> str:
    """`text` with every control and format character but newline and tab escaped."""
    if text.isprintable():
        return text  # the common case, kept cheap
    return "".join(_escaped(character) for character in text)


def _escaped(character: str) -> str:
    if character in _KEPT or unicodedata.category(character) not in ("Cc", "Cf", "Zl", "Zp", "Cs"):
        return character
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
