"""Pacing sends to a relay's published limit (Exchange Online: 30 messages a minute)."""

from __future__ import annotations

import asyncio

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most `per_minute` messages a minute, evenly spaced (0: no limit). Shared by the lanes."""

    def __init__(self, per_minute: int) -> None:
        self._interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._next = 0.0

    async def acquire(self) -> None:
        if not self._interval:
            return
        now = asyncio.get_running_loop().time()
        self._next = max(self._next, now)
        wait = self._next - now
        self._next += self._interval
        if wait > 0:
            await asyncio.sleep(wait)
