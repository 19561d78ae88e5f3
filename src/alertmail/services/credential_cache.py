"""API tokens resolved to their record and administrator, kept in memory while nothing changed them.

A token is looked up in the database once; afterwards requests share reads of the credentials
generation (`GenerationRepository.current`), which every change to tokens or administrators bumps,
from any process or node, in the change's own transaction. A request accepts a read that began at
most `MAX_STALENESS` before it arrived (waiting for the one in flight, or starting one): so a burst
of requests costs one read, and a revocation on another node or process is refused within
`MAX_STALENESS` (a change made by this process clears the cache at once).

Entries also expire after `max_age`, so that the token's `last_used_at` (written by the lookup at
most once a minute) stays about right.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from alertmail.domain.ports import GenerationRepository
from alertmail.domain.records import Administrator, ApiToken

__all__ = ["MAX_STALENESS", "TokenCache"]

MAX_STALENESS = 0.1  # seconds

Resolved = tuple[ApiToken, Administrator]


@dataclass(frozen=True)
class _Entry:
    resolved: Resolved
    generation: int
    stored_at: float


class TokenCache:
    def __init__(
        self,
        generations: GenerationRepository,
        *,
        max_age: float = 60.0,
        max_entries: int = 1024,
        max_staleness: float = MAX_STALENESS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._generations = generations
        self._max_age = max_age
        self._max_entries = max_entries
        self._monotonic = monotonic
        self._max_staleness = max_staleness
        self._entries: dict[str, _Entry] = {}
        self._generation = 0
        self._known_since = float("-inf")  # when the read that gave `_generation` began
        self._reading: asyncio.Task[None] | None = None
        self._reading_since = float("-inf")

    async def resolve(self, token_hash: str, look_up: Callable[[], Awaitable[Resolved]]) -> Resolved:
        """The token and its administrator from memory when still current, else from `look_up`.

        The caller still checks the token's expiry: a cached token expires too."""
        generation = await self._fresh_generation()
        entry = self._entries.get(token_hash)
        now = self._monotonic()
        if entry is not None and entry.generation == generation and now - entry.stored_at < self._max_age:
            return entry.resolved
        resolved = await look_up()  # raises when the token is not valid: nothing is cached
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[token_hash] = _Entry(resolved, generation, now)
        return resolved

    def clear(self) -> None:
        """Forget every entry (this process changed a token or an administrator)."""
        self._entries.clear()

    async def _fresh_generation(self) -> int:
        oldest = self._monotonic() - self._max_staleness  # a read begun since then will do
        while self._known_since < oldest:
            if self._reading is None or self._reading.done():
                self._reading_since = self._monotonic()
                self._reading = asyncio.create_task(self._read(self._reading_since))
            await asyncio.shield(self._reading)  # one begun too early: wait, then start another
        return self._generation

    async def _read(self, since: float) -> None:
        generation = await self._generations.current()
        if since > self._known_since:
            self._known_since, self._generation = since, generation
