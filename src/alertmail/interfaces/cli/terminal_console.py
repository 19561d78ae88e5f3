"""The commands' console: Rich, with text from elsewhere made safe for the terminal (terminal.py)."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from alertmail.interfaces.cli.terminal import terminal_safe

__all__ = ["TerminalConsole"]


class TerminalConsole(Console):
    """A Rich console that escapes control characters in every string it is given to print."""

    def print(self, *objects: Any, **options: Any) -> None:
        safe = [terminal_safe(item) if isinstance(item, str) else item for item in objects]
        super().print(*safe, **options)
