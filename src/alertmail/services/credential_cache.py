"""API tokens resolved to their administrator, kept in memory while nothing changed them.

A token is looked up in the database once; afterwards a request costs one read of the credentials
generation (`GenerationRepository.current`), which every change to tokens or administrators bumps,
from any process or node, in the change's own transaction. That read is shared: concurrent
requests wait for one read that began after they arrived, so a revocation committed before a
request arrived is always seen, and a burst of requests costs one read between them.

Entries also expire after `max_age`, so that the token's `last_used_at` (written by the lookup at
most once a minute) stays about right.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from alertmail.domain.ports import GenerationRepository
from alertmail.domain.records import Administrator

__all__ = ["TokenCache"]


@dataclass(frozen=True)
class _Entry:
    administrator: Administrator
    generation: int
    stored_at: float


class TokenCache:
    def __init__(
        self,
        generations: GenerationRepository,
        *,
        max_age: float = 60.0,
        max_entries: int = 1024,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._generations = generations
        self._max_age = max_age
        self._max_entries = max_entries
        self._monotonic = monotonic
        self._entries: dict[str, _Entry] = {}
        self._started = 0  # generation reads begun
        self._finished = 0  # the latest read that completed
        self._generation = 0
        self._reading: asyncio.Task[None] | None = None

    async def administrator(
        self, token_hash: str, look_up: Callable[[], Awaitable[Administrator]]
    ) -> Administrator:
        """The token's administrator from memory when still current, else from `look_up`."""
        generation = await self._fresh_generation()
        entry = self._entries.get(token_hash)
        now = self._monotonic()
        if entry is not None and entry.generation == generation and now - entry.stored_at < self._max_age:
            return entry.administrator
        administrator = await look_up()  # raises when the token is not valid: nothing is cached
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[token_hash] = _Entry(administrator, generation, now)
        return administrator

    def clear(self) -> None:
        """Forget every entry (this process changed a token or an administrator)."""
        self._entries.clear()

    async def _fresh_generation(self) -> int:
        needed = self._started + 1  # a read that begins from now on
        while self._finished < needed:
            if self._reading is None or self._reading.done():
                self._started += 1
                self._reading = asyncio.create_task(self._read(self._started))
            await asyncio.shield(self._reading)
        return self._generation

    async def _read(self, number: int) -> None:
        generation = await self._generations.current()
        if number > self._finished:
            self._finished, self._generation = number, generation
