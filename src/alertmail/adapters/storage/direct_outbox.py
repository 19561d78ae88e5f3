"""The outbox reached with the database driver alone: `alertmail sendmail`'s direct path.

A process that queues one message and exits needs three statements: the schema version (one read:
an upgrade due sends the caller to the full path, which runs Alembic), the sender of the saved
settings, and one INSERT of the row SqlOutboxRepository would write (outbox_columns.py). Loading
SQLAlchemy and an event loop for them costs several times more than running them; so here they go
through the standard library's sqlite3, or psycopg (synchronous) on PostgreSQL, on a connection
set up as the engine's are (sqlite_connection.py). Other databases go to the full path.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

from alertmail.adapters.storage.outbox_columns import JSON_COLUMNS, OUTBOX_COLUMNS, outbox_values
from alertmail.adapters.storage.schema_version import SCHEMA_VERSION_QUERY, is_current
from alertmail.adapters.storage.sqlite_connection import configure_sqlite_connection, owner_only
from alertmail.domain.local_queue import LocalSender
from alertmail.domain.outbox import OutboxMessage
from alertmail.errors import AlertmailError

__all__ = ["QueueUnreachableError", "SqlDirectOutbox", "open_direct_outbox"]

_SENDER_QUERY = "SELECT from_address, email_type FROM mail_settings WHERE id = 1"
_POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")
_SQLITE_SCHEMES = ("sqlite:///", "sqlite+aiosqlite:///")


class QueueUnreachableError(AlertmailError):
    """The database refused or could not be reached: nothing was queued; later may work."""

    category = "storage"
    retryable = True


class SqlDirectOutbox:
    """`DirectOutbox` on an open DB-API connection (sqlite3 or psycopg), autocommitting."""

    def __init__(self, connection: Any, *, insert: str, encode: Callable[[str, Any], Any]) -> None:
        self._connection = connection
        self._insert = insert
        self._encode = encode

    @property
    def connection(self) -> Any:
        """The DB-API connection, as set up (see sqlite_connection.py)."""
        return self._connection

    def sender(self) -> LocalSender | None:
        row = self._connection.execute(_SENDER_QUERY).fetchone()
        return None if row is None else LocalSender(from_address=row[0], email_type=row[1])

    def enqueue(self, message: OutboxMessage) -> None:
        values = {name: self._encode(name, value) for name, value in outbox_values(message).items()}
        self._connection.execute("BEGIN")
        try:
            self._connection.execute(self._insert, values)
        except BaseException:
            with suppress(Exception):  # the error that matters is the INSERT's
                self._connection.execute("ROLLBACK")
            raise
        self._connection.execute("COMMIT")

    def schema_is_current(self) -> bool:
        """One read of `alembic_version`; False also before the first migration (no table)."""
        try:
            rows = self._connection.execute(SCHEMA_VERSION_QUERY).fetchall()
        except _missing_table_errors():
            return False
        return is_current(row[0] for row in rows)


@contextmanager
def open_direct_outbox(url: str) -> Iterator[SqlDirectOutbox | None]:
    """The outbox of the database at `url` (as configured), closed on exit; None when the full
    path must queue: a database not created yet, an upgrade due, or a URL it does not take.
    Driver errors become `QueueUnreachableError`."""
    with _translated_errors():
        outbox = _connect(url)
        if outbox is None:
            yield None
            return
        try:
            yield outbox if outbox.schema_is_current() else None
        finally:
            outbox.connection.close()


def _connect(url: str) -> SqlDirectOutbox | None:
    if url.startswith(_SQLITE_SCHEMES):
        return _connect_sqlite(Path(url.split(":///", 1)[1]))
    if url.startswith(_POSTGRES_SCHEMES):
        return _connect_postgres("postgresql://" + url.split("://", 1)[1])
    return None


def _connect_sqlite(path: Path) -> SqlDirectOutbox | None:
    import sqlite3

    if "?" in str(path) or not path.is_file():  # options, or no database yet: the full path's
        return None
    owner_only(path)  # as the engine does on every start
    connection = sqlite3.connect(path)
    configure_sqlite_connection(connection)
    return SqlDirectOutbox(connection, insert=_insert(":{}", "{}"), encode=_encoder(_sqlite_time))


def _connect_postgres(conninfo: str) -> SqlDirectOutbox:
    import psycopg

    connection = psycopg.connect(conninfo, autocommit=True)
    return SqlDirectOutbox(connection, insert=_insert("%({})s", "{}::json"), encode=_encoder(_postgres_time))


def _insert(placeholder: str, json_placeholder: str) -> str:
    names = ", ".join(OUTBOX_COLUMNS)
    params = ", ".join(
        (json_placeholder if name in JSON_COLUMNS else "{}").format(placeholder.format(name))
        for name in OUTBOX_COLUMNS
    )
    return f"INSERT INTO outbox ({names}) VALUES ({params})"  # noqa: S608  # names of our own


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's DATETIME text


def _postgres_time(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _encoder(time: Callable[[datetime], Any]) -> Callable[[str, Any], Any]:
    """A column's value as SQLAlchemy stores it: JSON columns as JSON text, timestamps by `time`."""

    def encode(name: str, value: Any) -> Any:
        if name in JSON_COLUMNS:
            return json.dumps(value)
        return time(value) if isinstance(value, datetime) else value

    return encode


def _missing_table_errors() -> tuple[type[Exception], ...]:
    return _errors_of("OperationalError", "errors.UndefinedTable")


@contextmanager
def _translated_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        if not isinstance(exc, _driver_errors()):
            raise
        kind = type(exc)
        # Worded as SQLAlchemy words them on the full path: "(sqlite3.OperationalError) ...".
        raise QueueUnreachableError(f"({kind.__module__}.{kind.__name__}) {exc}") from exc


def _driver_errors() -> tuple[type[Exception], ...]:
    return (OSError, *_errors_of("Error", "Error"))


def _errors_of(sqlite_name: str, psycopg_name: str) -> tuple[type[Exception], ...]:
    """sqlite3's exception `sqlite_name`, and psycopg's `psycopg_name` once psycopg is loaded (it is
    when the database is PostgreSQL; imported only for that)."""
    import sqlite3

    found: list[type[Exception]] = [getattr(sqlite3, sqlite_name)]
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        found.append(attrgetter(psycopg_name)(psycopg))
    return tuple(found)
