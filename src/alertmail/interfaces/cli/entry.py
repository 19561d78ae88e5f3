"""The `alertmail` program's entry point: `sendmail` and `serve` on their own, the rest through main.py.

sendmail runs once for every message that cron or a script sends, so it starts without the
command-line framework and the other commands' modules (see sendmail_command.py); `serve` starts
without the other commands' modules, which it would otherwise keep in memory for as long as it
runs. Every other command goes to the Typer application in main.py, which lists all of them.
"""

from __future__ import annotations

import gc
import sys

__all__ = ["main"]


def main() -> None:
    if sys.argv[1:2] == ["sendmail"]:
        from alertmail.interfaces.cli.sendmail_command import main as sendmail

        sendmail(sys.argv[2:])
    if sys.argv[1:2] == ["serve"]:
        # Start-up makes objects that live as long as the server (modules, classes, the services),
        # and hardly any garbage; the collections it would trigger meanwhile walk them again and
        # again, about a sixth of its CPU time. The server's lifespan freezes what start-up made
        # and turns collection back on before the first connection (api/app.py).
        gc.disable()
        from alertmail.interfaces.cli.serve_start import main as serve

        serve(sys.argv[2:])
        return
    from alertmail.interfaces.cli.main import main as commands

    if sys.argv[1:2] != ["notify"]:
        commands()
        return
    from alertmail.interfaces.cli.quick_exit import leave, status_of

    try:
        commands()
    except SystemExit as done:  # Typer's end, after the event was recorded or refused
        leave(status_of(done))
