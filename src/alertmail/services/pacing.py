"""Pacing a worker's sends by the cluster's tokens (domain/pacing.py): a connection token per open
relay connection, a message token per message, both shared through the database with every other
worker of every node.

A worker waits for a token by asking again: soon after the soonest busy token is due back, and at
least every `max_poll` seconds (a token in flight elsewhere may come back sooner). While it holds
tokens a background task renews them every third of `lease`; a worker that dies stops renewing,
and its tokens come back once the lease has run out.

Message tokens are taken ahead for the next messages of a batch (`wanted`, at most a tenth of the
limit; domain/pacing.py says why the bound holds) and kept in a reserve the worker's lanes draw
from; a used one is given back, with its own `free_at`, at the next take or at `settle` (the end of
a batch), one write for all. Until then it is held and renewed like any other.

A worker cancelled half-way through a database write (a lane cancelled by its task group) lets the
write finish in the background: cut short, it could leave SQLite's write lock held, and a token
taken that way is given back once the take completes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta
from typing import Any, TypeVar

from alertmail.domain.pacing import (
    CONNECTIONS,
    MESSAGES,
    WINDOW,
    PacingRepository,
    Taken,
    in_flight_until,
    returned_at,
    tokens_ahead,
)
from alertmail.services.clock import Clock

__all__ = ["ClusterPacing"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_MIN_WAIT = 0.02  # seconds: never ask again in a tight loop
_TRIES = 5  # database failures in a row while taking a token before giving up


class ClusterPacing:
    def __init__(
        self,
        tokens: PacingRepository,
        holder: str,
        *,
        clock: Clock,
        lease: timedelta = timedelta(seconds=15),
        window: timedelta = WINDOW,  # shorter only in tests: the relay counts per minute
        max_poll: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._tokens = tokens
        self._holder = holder
        self._clock = clock
        self._lease = lease
        self._window = window
        self._max_poll = max_poll
        self._sleep = sleep
        self._held: dict[str, str] = {}  # token -> its bucket
        self._reserve: list[str] = []  # message tokens taken ahead, not used yet
        self._spent: dict[str, datetime] = {}  # message tokens used, not given back yet -> free_at
        self._refilling = asyncio.Lock()
        self._renewing: asyncio.Task[None] | None = None
        self._finishing: set[asyncio.Task[Any]] = set()  # writes a cancelled caller let finish

    async def take_connection(self, limit: int, still_needed: Callable[[], bool]) -> str | None:
        """A connection token, waited for while `still_needed()`; None once it is not."""
        taken = await self._take(CONNECTIONS, limit, still_needed)
        return taken[0] if taken else None

    @asynccontextmanager
    async def message(self, per_minute: int, *, wanted: int = 1) -> AsyncIterator[None]:
        """Hold a message token while one message is sent (0: no limit, no token). `wanted`: how many
        messages the batch still has to send, this one included (tokens taken ahead for them)."""
        if per_minute <= 0:
            yield
            return
        async with self._refilling:  # one lane takes for all: the others then find the reserve full
            if not self._reserve:
                await self._give_back_spent()
                self._reserve.extend(await self._take(MESSAGES, per_minute, lambda: True, wanted))
        token = self._reserve.pop()
        try:
            yield
        finally:
            self._spent[token] = returned_at(self._clock(), bucket=MESSAGES, window=self._window)

    async def settle(self) -> None:
        """At the end of a batch: the used message tokens go back with their own `free_at`, the
        unused ones free at once (no message went with them)."""
        unused, self._reserve = self._reserve, []
        now = self._clock()
        self._spent.update(dict.fromkeys(unused, now))
        await self._give_back_spent()

    async def others_want_connections(self) -> bool:
        """Whether another worker waits for a connection token (then ours should go back)."""
        try:
            return await self._tokens.others_wait(CONNECTIONS, self._holder, self._clock())
        except Exception:
            logger.exception("pacing: could not tell whether other workers wait for a connection")
            return False

    async def give_back(self, token: str) -> None:
        bucket = self._held.pop(token, CONNECTIONS)
        free_at = returned_at(self._clock(), bucket=bucket, window=self._window)
        try:
            await self._unhurried(self._tokens.give_back(token, self._holder, free_at))
        except Exception:
            # Not given back, the token comes back when its lease runs out: later, never lost.
            logger.exception("pacing: giving back a %s token failed", bucket)

    async def close(self) -> None:
        await self.settle()
        renewing, self._renewing = self._renewing, None
        if renewing is not None:
            renewing.cancel()
            with suppress(asyncio.CancelledError):
                await renewing
        if self._finishing:
            await asyncio.gather(*self._finishing, return_exceptions=True)

    async def abandon(self) -> None:
        """Stop renewing and writing at once, giving nothing back: what a killed process does
        (for tests that crash workers inside one process)."""
        tasks = [task for task in (self._renewing, *self._finishing) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._renewing = None
        self._held.clear()
        self._reserve.clear()
        self._spent.clear()

    async def _give_back_spent(self) -> None:
        spent, self._spent = self._spent, {}
        if not spent:
            return
        for token in spent:
            self._held.pop(token, None)
        try:
            await self._unhurried(self._tokens.give_back_many(spent, self._holder))
        except Exception:
            # Not given back, they come back when their lease runs out: later, never lost.
            logger.exception("pacing: giving back %d message token(s) failed", len(spent))

    async def _take(
        self, bucket: str, limit: int, still_needed: Callable[[], bool], wanted: int = 1
    ) -> tuple[str, ...]:
        """At least one token (up to `tokens_ahead` of `wanted` for messages), waited for while
        `still_needed()`; none once it is not."""
        failures = 0
        count = tokens_ahead(wanted, limit) if bucket == MESSAGES else 1
        while still_needed():
            now = self._clock()
            until = in_flight_until(now, self._lease, bucket=bucket, window=self._window)
            taking = asyncio.ensure_future(
                self._tokens.take(bucket, self._holder, limit=limit, now=now, until=until, count=count)
            )
            try:
                taken = await self._unhurried(taking, on_cancel=self._give_back_taken)
            except Exception:
                failures += 1
                if failures >= _TRIES:
                    raise
                logger.exception("pacing: taking a %s token failed; trying again", bucket)
                await self._sleep(self._max_poll)
                continue
            failures = 0
            if taken.tokens:
                self._held.update(dict.fromkeys(taken.tokens, bucket))
                self._keep_renewing()
                return taken.tokens
            await self._sleep(min(max(taken.wait.total_seconds(), _MIN_WAIT), self._max_poll))
        try:
            await self._unhurried(self._tokens.withdraw(bucket, self._holder))
        except Exception:
            # Left registered, the taker holds others up until WAITING_ALIVE has passed: seconds.
            logger.exception("pacing: withdrawing from the %s waiting line failed", bucket)
        return ()

    async def _unhurried(
        self, write: Awaitable[T], on_cancel: Callable[[asyncio.Future[T]], None] | None = None
    ) -> T:
        """Await `write`; if the caller is cancelled meanwhile, the write still runs to its end."""
        task = asyncio.ensure_future(write)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            self._finishing.add(task)
            task.add_done_callback(self._finishing.discard)
            if on_cancel is not None:
                task.add_done_callback(on_cancel)
            raise

    def _give_back_taken(self, taking: asyncio.Future[Taken]) -> None:
        if taking.cancelled() or taking.exception() is not None or not taking.result().tokens:
            return
        free = dict.fromkeys(taking.result().tokens, self._clock())
        giving = asyncio.ensure_future(self._tokens.give_back_many(free, self._holder))
        self._finishing.add(giving)
        giving.add_done_callback(self._finishing.discard)

    def _keep_renewing(self) -> None:
        if self._renewing is None or self._renewing.done():
            self._renewing = asyncio.create_task(self._renew(), name="pacing-tokens")

    async def _renew(self) -> None:
        while self._held:
            await self._sleep(self._lease.total_seconds() / 3)
            for bucket in (CONNECTIONS, MESSAGES):
                held = [token for token, of in self._held.items() if of == bucket]
                until = in_flight_until(self._clock(), self._lease, bucket=bucket, window=self._window)
                try:
                    renewed = await self._unhurried(self._tokens.renew(held, self._holder, until))
                except Exception:
                    logger.exception("pacing: renewing %d %s token(s) failed", len(held), bucket)
                    continue
                lost = set(held) - renewed
                if lost:
                    logger.warning(
                        "pacing: %d %s token(s) in use ran out before they were renewed; the relay"
                        " may see more than its limit for a moment",
                        len(lost),
                        bucket,
                    )
                for token in lost:
                    self._held.pop(token, None)
