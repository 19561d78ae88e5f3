"""The database: async engine for SQLite or PostgreSQL, sessions, and migrations to head.

Nothing is built at import time: the composition root calls
`Database.from_url(config.resolved_database_url)`, then `await database.upgrade()` before serving.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, PoolResetState, event, make_url, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from alertmail.adapters.storage.schema_version import schema_is_current
from alertmail.adapters.storage.sqlite_connection import (
    SQLITE_BUSY_TIMEOUT_MS,
    configure_sqlite_connection,
    owner_only,
)
from alertmail.adapters.storage.sqlite_writer import SqliteWriter

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported inside the functions below that use it: loading it costs most of a second,
# and a command on a current database never needs it (see schema_version.py).

__all__ = [
    "SQLITE_BEGIN",
    "SQLITE_BUSY_TIMEOUT_MS",
    "Database",
    "alembic_config",
    "create_engine",
    "create_writer_engine",
    "current_revision",
    "head_revision",
    "owner_only",
    "upgrade_database",
]

MIGRATIONS = Path(__file__).parent / "migrations"
# Execution option naming how a SQLite transaction begins: "IMMEDIATE" takes the write lock at once.
SQLITE_BEGIN = "alertmail_sqlite_begin"
_SQLITE_BEGIN_MODES = {"": "BEGIN", "IMMEDIATE": "BEGIN IMMEDIATE"}
# Any constant will do; it only has to be the same on every node running migrations.
_MIGRATION_LOCK_ID = 0x616C6572746D61  # "alertma"


def create_engine(url: str) -> AsyncEngine:
    """An engine for an async URL (`sqlite+aiosqlite://...` or `postgresql+psycopg://...`)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        owner_only(Path(parsed.database))
    # The pool's reset is ours (below): its default rollback doubles the session's own.
    engine = create_async_engine(url, pool_reset_on_return=None)
    _listen_sqlite(engine.sync_engine)
    return engine


def create_writer_engine(url: str) -> Engine | None:
    """SQLite on a file: a synchronous engine whose transactions begin IMMEDIATE, for the
    `SqliteWriter`; None for PostgreSQL and an in-memory database (a second connection would
    be a database of its own)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    engine = create_sync_engine(
        parsed.set(drivername="sqlite+pysqlite"),
        pool_size=1,  # one connection, used by the writer's one thread, closed from the loop's
        max_overflow=0,
        pool_reset_on_return=None,
        connect_args={"check_same_thread": False},
        execution_options={SQLITE_BEGIN: "IMMEDIATE"},
    )
    _listen_sqlite(engine)
    return engine


def _listen_sqlite(engine: Engine) -> None:
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "reset", _reset_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    configure_sqlite_connection(dbapi_connection)


def _reset_sqlite_connection(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    # A session closing has already rolled back its transaction, and the pool would roll back once
    # more: on aiosqlite, a hand-off to the connection's thread and back for every read. Roll back
    # only a connection still in a transaction (one returned without its transaction closed).
    # The writer's engine (sqlite_writer.py) holds a plain sqlite3 connection, not an adapter.
    driver = getattr(dbapi_connection, "driver_connection", dbapi_connection)
    if state.asyncio_safe and not state.terminate_only and driver.in_transaction:
        dbapi_connection.rollback()


def _begin_sqlite_transaction(connection: Connection) -> None:
    mode = connection.get_execution_options().get(SQLITE_BEGIN, "")
    connection.exec_driver_sql(_SQLITE_BEGIN_MODES[mode])


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration, built in code so that it works from an installed package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration found in {MIGRATIONS}: the package is incomplete")
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None before the first upgrade."""
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as connection:
        return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def upgrade_database(target: AsyncEngine | str) -> None:
    """Run the migrations up to head, in one transaction (both databases have transactional DDL)."""
    if isinstance(target, str):
        engine = create_engine(target)
        try:
            await upgrade_database(engine)
        finally:
            await engine.dispose()
        return
    async with target.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Nodes starting together would otherwise race to create the same tables.
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _MIGRATION_LOCK_ID}
            )
        await connection.run_sync(_upgrade_to_head)


def _upgrade_to_head(connection: Connection) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class Database:
    """The engine and the session factory the repositories share."""

    def __init__(self, engine: AsyncEngine, writer: SqliteWriter | None = None) -> None:
        self.engine = engine
        # SQLite on a file: batches of events written in one hand-off to a thread (sqlite_writer.py).
        self.writer = writer
        # Records are built from rows before the session closes; nothing is lazy-loaded after.
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            engine, expire_on_commit=False
        )

    @classmethod
    def from_url(cls, url: str) -> Database:
        engine = create_engine(url)
        writer_engine = create_writer_engine(url)
        return cls(engine, SqliteWriter(writer_engine) if writer_engine is not None else None)

    @property
    def sync_engines(self) -> list[Engine]:
        """Every engine statements run on (for listeners): the async one's, and the writer's."""
        return [self.engine.sync_engine, *([self.writer.engine] if self.writer else [])]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def upgrade(self) -> None:
        """Bring the schema to head; on a current database, one read and nothing else."""
        if not await schema_is_current(self.engine):
            await upgrade_database(self.engine)

    async def dispose(self) -> None:
        if self.writer is not None:
            self.writer.close()
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.dispose()
