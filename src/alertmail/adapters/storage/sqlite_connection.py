"""How every SQLite connection is set up, by the engine (database.py) and by sendmail's direct
connection (direct_outbox.py) alike: the file's mode, WAL, foreign keys, the busy timeout.

Plain DB-API and the standard library only: sendmail's path imports no SQLAlchemy.
"""

from __future__ import annotations

import os
import stat
from contextlib import suppress
from pathlib import Path
from typing import Any

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "configure_sqlite_connection", "owner_only"]

SQLITE_BUSY_TIMEOUT_MS = 10_000


def configure_sqlite_connection(dbapi_connection: Any) -> None:
    """WAL, foreign keys and the busy timeout on a new connection; transactions begun by hand."""
    # WAL lets the web UI read while the worker writes; busy_timeout makes a second writer wait
    # instead of failing at once; SQLite enforces foreign keys only when asked, per connection.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()
    # Python's sqlite3 module begins transactions lazily (only before INSERT/UPDATE/DELETE), so DDL
    # and reads would run outside them. Turn that off and emit BEGIN ourselves, as SQLAlchemy's
    # SQLite documentation recommends: migrations then apply all-or-nothing.
    dbapi_connection.isolation_level = None


def owner_only(database: Path) -> None:
    """The database file and its companions readable by the owner alone (0600), whatever the
    umask and the data directory's mode: they hold password hashes, tokens and encrypted secrets.

    SQLite creates the -wal and -shm files with the mode of the database file, so the file is
    created 0600 before SQLite ever opens it; files left by an older version are tightened.
    """
    with suppress(FileExistsError):
        os.close(os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    for path in (database, *(database.with_name(database.name + s) for s in ("-wal", "-shm", "-journal"))):
        with suppress(FileNotFoundError):
            if stat.S_IMODE(path.stat().st_mode) != 0o600:
                path.chmod(0o600)
