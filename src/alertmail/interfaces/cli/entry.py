"""The `alertmail` program's entry point: `alertmail sendmail` first, everything else through Typer.

sendmail runs once for every message that cron or a script sends, so it starts without the
command-line framework and the other commands' modules (see sendmail_command.py); every other
command goes to the Typer application in main.py.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    if sys.argv[1:2] == ["sendmail"]:
        from alertmail.interfaces.cli.sendmail_command import main as sendmail

        sys.exit(sendmail(sys.argv[2:]))
    from alertmail.interfaces.cli.main import main as commands

    commands()
