"""Group commit: callers hand items to one writer, which records whatever has queued in one go.

While a batch is being written, newer items queue; the writer then takes them all as the next
batch. Nothing waits for a timer: a lone item is written at once, and under load each commit
carries everything that arrived during the previous one. A caller's `submit` returns once its
batch is committed, so durability is the same as one transaction per item.

One writer per process and event loop; the writer task exists only while there is work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

Item = TypeVar("Item")
Result = TypeVar("Result")
WriteBatch = Callable[[Sequence[Item]], Awaitable[Sequence[Result]]]


class GroupCommit(Generic[Item, Result]):
    def __init__(self, write: WriteBatch[Item, Result], *, max_batch: int = 500) -> None:
        self._write = write
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writing: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0  # committed batches, for tests and metrics

    async def submit(self, item: Item) -> Result:
        """Queue `item`; its result once the batch it went into is committed."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="alertmail-group-commit")
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                self._writing = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._settle(self._writing)
        except asyncio.CancelledError:  # the loop is closing: nobody may wait forever
            for _, future in self._writing + self._pending:
                future.cancel()
            self._pending = []
            raise
        finally:
            self._writing = []

    async def _settle(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._write([item for item, _ in batch])
        except Exception as exc:  # handed to the callers, who translate it
            if len(batch) > 1:
                # One bad item must not fail the others: write them one by one.
                for one in batch:
                    await self._settle([one])
                return
            _fail(batch[0][1], exc)
            return
        self.batches += 1
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # a caller that gave up (cancelled) still had its item written
                future.set_result(result)


def _fail(future: asyncio.Future[Result], exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
