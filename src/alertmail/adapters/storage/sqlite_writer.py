"""SQLite: a write transaction run in one hand-off to a thread, not one per statement.

Through aiosqlite every statement crosses to the connection's thread and back three or four
times (cursor, execute, fetch, close), and a batch of events holds SQLite's write lock across
some twenty such round trips of the event loop. Here a synchronous connection of its own runs the
whole transaction (`BEGIN IMMEDIATE` … `COMMIT`) in one call on one thread; the event loop only
waits for the result. Same file, same pragmas and durability (synchronous=FULL, WAL) as the
async engine: they are two connections to one database, and SQLite's lock orders their writes.

A transaction may still need the event loop half-way (the e-mails of a batch are made by async
services): `work` is given an `AwaitFn` that runs a coroutine on the loop and waits for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from sqlalchemy import Connection, Engine

__all__ = ["AwaitFn", "SqliteWriter"]

T = TypeVar("T")
R = TypeVar("R")


class AwaitFn(Protocol):
    """Waits, from synchronous code, for an awaitable run on the event loop; its result."""

    def __call__(self, awaitable: Awaitable[T], /) -> T: ...


class SqliteWriter:
    def __init__(self, engine: Engine) -> None:
        """`engine`: synchronous, on the database file, its transactions beginning IMMEDIATE
        (`database.create_writer_engine`)."""
        self.engine = engine
        self._thread: ThreadPoolExecutor | None = None

    async def transaction(self, work: Callable[[Connection, AwaitFn], T]) -> T:
        """`work` run in one transaction on the writer's thread; committed when it returns."""
        if self._thread is None:  # made on first use: a command that writes no events has none
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alertmail-sqlite-writer")
        loop = asyncio.get_running_loop()
        on_loop = _on(loop)

        def run() -> T:
            with self.engine.begin() as connection:
                return work(connection, on_loop)

        return await loop.run_in_executor(self._thread, run)

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
        self.engine.dispose()


def _on(loop: asyncio.AbstractEventLoop) -> AwaitFn:
    def wait_for(awaitable: Awaitable[R]) -> R:
        # Cancelled with the loop's tasks at shutdown: the wait ends, the transaction rolls back.
        return asyncio.run_coroutine_threadsafe(_awaited(awaitable), loop).result()

    return wait_for


async def _awaited(awaitable: Awaitable[R]) -> R:
    return await awaitable
