"""Leaving a one-shot command without the interpreter's teardown.

`alertmail sendmail` and `alertmail notify` run on every alert a host raises. When one has done its
work (the row committed, the database closed), tearing the interpreter down (every module's
objects freed, a last collection) is a third of its time on a busy machine and protects nothing:
so what was printed is flushed and the process ends at once.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn

__all__ = ["leave", "status_of"]


def leave(status: int) -> NoReturn:
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def status_of(done: SystemExit) -> int:
    """The exit status `sys.exit(code)` would give: None is 0; a message is printed, and is 1."""
    if done.code is None or isinstance(done.code, int):
        return done.code or 0
    print(done.code, file=sys.stderr)
    return 1
