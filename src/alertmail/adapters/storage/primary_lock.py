"""The primary's lock: a PostgreSQL session-level advisory lock, held on a connection of its own.

The lock lives as long as the connection that took it. When the primary process dies, the kernel
closes its socket, the server ends the session and the lock is free for a backup; the connection is
never a pooled one, which could be handed back and reused while the lock stays taken. TCP
keepalives make a silent network loss end the session too (set the server's
`tcp_keepalives_idle` to match, see docs/cluster.md).

On SQLite there is one node, and it is always the primary: `SingleNodeLock`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    import psycopg

__all__ = ["PRIMARY_LOCK_KEY", "PostgresPrimaryLock", "SingleNodeLock"]

logger = logging.getLogger(__name__)

# pg_try_advisory_lock(int, int): "alml" and 1. Advisory locks are per database, so two clusters
# on two databases of one server do not share it.
PRIMARY_LOCK_KEY = (0x616C6D6C, 1)

_HOLDERS = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid) AND objsubid = 2"
)
# Only the session named, and only while it still holds the lock: never whoever holds it now.
_FENCE = text(
    "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid) AND objsubid = 2"
    " AND pid = :session AND pid <> pg_backend_pid()"
)
_MINE = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()"
    " AND classid = %s::oid AND objid = %s::oid AND objsubid = 2"
)


def libpq_url(sqlalchemy_url: str) -> str:
    """`postgresql+psycopg://...` as libpq takes it (`postgresql://...`), password kept."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresPrimaryLock:
    def __init__(
        self,
        url: str,
        engine: AsyncEngine,
        *,
        key: tuple[int, int] = PRIMARY_LOCK_KEY,
        connect_timeout: int = 5,
        keepalive_seconds: int = 5,
    ) -> None:
        self._conninfo = libpq_url(url)
        self._engine = engine  # pooled connections, for the probe only
        self._key = key
        self._options: dict[str, Any] = {
            "connect_timeout": connect_timeout,
            "keepalives": 1,
            "keepalives_idle": keepalive_seconds,
            "keepalives_interval": keepalive_seconds,
            "keepalives_count": 3,
            "application_name": "alertmail primary lock",
        }
        self._connection: psycopg.AsyncConnection[Any] | None = None

    async def try_acquire(self) -> bool:
        import psycopg  # here: a node on SQLite (SingleNodeLock) never loads the PostgreSQL driver

        try:
            if self._connection is None or self._connection.closed:
                self._connection = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, **self._options
                )
            cursor = await self._connection.execute("SELECT pg_try_advisory_lock(%s, %s)", self._key)
            row = await cursor.fetchone()
        except psycopg.Error as exc:
            logger.warning("could not try the primary lock: %s", exc)
            await self._close()
            return False
        return bool(row and row[0])

    async def still_held(self) -> bool:
        import psycopg

        if self._connection is None or self._connection.closed:
            return False
        try:
            cursor = await self._connection.execute(_MINE, self._key)
            row = await cursor.fetchone()
        except psycopg.Error as exc:
            logger.error("the connection holding the primary lock failed: %s", exc)
            await self._close()
            return False
        return bool(row and row[0])

    async def held_by_anyone(self) -> bool:
        async with self._engine.connect() as connection:
            held = await connection.scalar(_HOLDERS, {"high": self._key[0], "low": self._key[1]})
        return bool(held)

    def session(self) -> int | None:
        if self._connection is None or self._connection.closed:
            return None
        return int(self._connection.info.backend_pid)

    async def fence(self, session: int) -> int:
        """End `session` if it holds the lock. The database role must be the nodes' own (or have
        pg_signal_backend): PostgreSQL lets a role end its own sessions, not a superuser's."""
        params = {"high": self._key[0], "low": self._key[1], "session": session}
        async with self._engine.connect() as connection:
            ended = await connection.scalar(_FENCE, params)
            await connection.commit()
        return int(ended or 0)

    async def release(self) -> None:
        import psycopg

        if self._connection is not None and not self._connection.closed:
            try:
                await self._connection.execute("SELECT pg_advisory_unlock(%s, %s)", self._key)
            except psycopg.Error as exc:
                logger.warning("could not release the primary lock (closing its connection): %s", exc)
        await self._close()

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()


class SingleNodeLock:
    """SQLite: one node, always the primary; nothing to lock against."""

    def __init__(self) -> None:
        self._held = False

    async def try_acquire(self) -> bool:
        self._held = True
        return True

    async def still_held(self) -> bool:
        return self._held

    async def held_by_anyone(self) -> bool:
        return self._held

    async def release(self) -> None:
        self._held = False

    def session(self) -> int | None:
        return None

    async def fence(self, session: int) -> int:
        return 0
