"""The supplemental mail log file (`<data dir>/logs/mail.log`), rotated by size.

One line per failed attempt, made for `grep` and `tail -f` on the appliance:

    2024-05-01T10:00:00+00:00 category=smtp_auth auth=basic status=failed smtp=535 enhanced=5.7.3
    provider=- context="test e-mail" node="" message="..." detail="..." snapshot={"hostname":...}

(one line in the file). Free text is JSON-quoted, so a CR or LF in a server reply can neither break
the one-line-per-entry format nor forge a line. Entries hold no secret by construction.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import cast

from alertmail.domain.records import MailLogEntry

__all__ = ["RotatingMailLogFile", "format_line"]

FILE_MODE = 0o640  # owner writes, the operators' group may read; never the world
_instances = itertools.count(1)


class RotatingMailLogFile:
    """Implements the `MailLogFile` port with `logging.handlers.RotatingFileHandler`.

    The logger is private to this instance (not registered with `logging.getLogger`, not
    propagating), so the application's logging configuration neither receives nor alters it.
    """

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        self.path = path
        self._handler = _PrivateRotatingFileHandler(path, max_bytes=max_bytes, backups=backups)
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._logger = logging.Logger(f"alertmail.mail_log_file.{next(_instances)}", logging.INFO)
        self._logger.propagate = False
        self._logger.addHandler(self._handler)

    def write(self, entry: MailLogEntry) -> None:
        self._logger.info(format_line(entry))

    def close(self) -> None:
        self._logger.removeHandler(self._handler)
        self._handler.close()


class _PrivateRotatingFileHandler(RotatingFileHandler):
    """Creates the log file, and each one after a rollover, never wider than `FILE_MODE`."""

    def __init__(self, path: Path, *, max_bytes: int, backups: int) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")

    def _open(self) -> io.TextIOWrapper:
        stream = open(  # noqa: SIM115 - the handler owns the stream and closes it
            self.baseFilename,
            self.mode,
            encoding=self.encoding,
            errors=self.errors,
            opener=_open_private,
        )
        return cast(io.TextIOWrapper, stream)  # text mode ("a"): open() returns a TextIOWrapper


def _open_private(path: str, flags: int) -> int:
    # The umask can only take permissions away, so the file is never wider than FILE_MODE.
    return os.open(path, flags, FILE_MODE)


def format_line(entry: MailLogEntry) -> str:
    fields = [
        entry.registered_at.isoformat(),
        f"category={entry.category}",
        f"auth={entry.auth_type}",
        f"status={entry.status}",
        f"smtp={_or_dash(entry.smtp_code)}",
        f"enhanced={_or_dash(entry.enhanced_code)}",
        f"provider={_or_dash(entry.provider_code)}",
        "support=" + json.dumps(entry.support_details, separators=(",", ":"), sort_keys=True),
        f"context={_quoted(entry.context)}",
        f"node={_quoted(entry.node)}",
        f"message={_quoted(entry.message)}",
        f"detail={_quoted(entry.detail)}",
        "snapshot=" + json.dumps(entry.settings_snapshot, separators=(",", ":"), sort_keys=True, default=str),
    ]
    return " ".join(fields)


def _or_dash(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
