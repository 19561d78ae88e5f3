"""The pacing tokens on SQLite and PostgreSQL: takers racing from separate engines (as separate
processes would) never get more tokens than the limit; tokens come back when their time is up,
and only their holder renews or gives them back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.models import PacingTokenRow
from alertmail.adapters.storage.pacing_repository import SqlPacingRepository
from alertmail.domain.pacing import CONNECTIONS, MESSAGES

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=30)


async def test_racing_takers_on_separate_engines_get_exactly_the_limit(database_url: str) -> None:
    engines = [Database.from_url(database_url) for _ in range(3)]
    await engines[0].upgrade()
    try:
        repositories = [SqlPacingRepository(e.sessionmaker, dialect=e.dialect) for e in engines]
        takes = [
            repositories[n % 3].take(MESSAGES, f"worker-{n}", limit=5, now=NOW, until=LATER)
            for n in range(24)
        ]
        taken = await asyncio.gather(*takes)
        assert sum(1 for t in taken if t.token is not None) == 5
        assert all(t.wait > timedelta(0) for t in taken if t.token is None)
        # The other bucket is counted apart.
        other = await repositories[0].take(CONNECTIONS, "worker-x", limit=1, now=NOW, until=LATER)
        assert other.token is not None
    finally:
        for engine in engines:
            await engine.dispose()


async def test_tokens_come_back_at_free_at_and_only_their_holder_moves_them(database: Database) -> None:
    tokens = SqlPacingRepository(database.sessionmaker, dialect=database.dialect)
    first = (await tokens.take(CONNECTIONS, "a", limit=1, now=NOW, until=LATER)).token
    assert first is not None
    assert (await tokens.take(CONNECTIONS, "b", limit=1, now=NOW, until=LATER)).token is None
    # Someone else's renewal or give-back changes nothing.
    assert await tokens.renew([first], "b", LATER + timedelta(hours=1)) == set()
    await tokens.give_back(first, "b", NOW)
    assert (await tokens.take(CONNECTIONS, "b", limit=1, now=NOW, until=LATER)).token is None
    # Its holder renews it; unrenewed, it comes back once its time is up (a holder that died).
    assert await tokens.renew([first], "a", LATER + timedelta(seconds=30)) == {first}
    assert (await tokens.take(CONNECTIONS, "b", limit=1, now=LATER, until=LATER)).token is None
    second = await tokens.take(CONNECTIONS, "b", limit=1, now=LATER + timedelta(seconds=30), until=LATER)
    assert second.token is not None
    # Given back, a token is free from the moment named; freed rows are deleted by the next take.
    await tokens.give_back(second.token, "b", NOW)
    assert (await tokens.take(CONNECTIONS, "c", limit=1, now=LATER, until=LATER)).token is not None
    async with database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(PacingTokenRow)) == 1


async def test_a_freed_token_goes_to_the_longest_waiting_taker_not_to_a_newcomer(database: Database) -> None:
    tokens = SqlPacingRepository(database.sessionmaker, dialect=database.dialect)
    held = (await tokens.take(CONNECTIONS, "holder", limit=1, now=NOW, until=LATER)).token
    assert held is not None
    assert (await tokens.take(CONNECTIONS, "waiter", limit=1, now=NOW, until=LATER)).token is None
    assert await tokens.others_wait(CONNECTIONS, "holder", NOW)
    assert not await tokens.others_wait(CONNECTIONS, "waiter", NOW)  # only itself
    await tokens.give_back(held, "holder", NOW)
    soon = NOW + timedelta(seconds=1)
    # The holder asks again at once: the waiter is first in line.
    assert (await tokens.take(CONNECTIONS, "holder", limit=1, now=soon, until=LATER)).token is None
    assert (await tokens.take(CONNECTIONS, "waiter", limit=1, now=soon, until=LATER)).token is not None
    # A waiter that stopped asking (withdrew, or went silent past WAITING_ALIVE) holds no one up.
    await tokens.withdraw(CONNECTIONS, "holder")
    assert not await tokens.others_wait(CONNECTIONS, "waiter", soon)


async def test_a_refused_taker_is_told_when_enough_tokens_come_back(database: Database) -> None:
    tokens = SqlPacingRepository(database.sessionmaker, dialect=database.dialect)
    for seconds in (30, 10, 20):
        until = NOW + timedelta(seconds=seconds)
        assert (await tokens.take(MESSAGES, "a", limit=3, now=NOW, until=until)).token is not None
    assert (await tokens.take(MESSAGES, "b", limit=3, now=NOW, until=LATER)).wait == timedelta(seconds=10)
    # The limit lowered to 2 meanwhile: two of the three must come back first, and one more for b,
    # waiting longer.
    assert (await tokens.take(MESSAGES, "c", limit=2, now=NOW, until=LATER)).wait == timedelta(seconds=30)
    await tokens.withdraw(MESSAGES, "b")
    assert (await tokens.take(MESSAGES, "c", limit=2, now=NOW, until=LATER)).wait == timedelta(seconds=20)


async def test_several_tokens_are_taken_at_once_up_to_the_free_ones_and_given_back_together(
    database: Database,
) -> None:
    tokens = SqlPacingRepository(database.sessionmaker, dialect=database.dialect)
    assert len((await tokens.take(MESSAGES, "a", limit=10, now=NOW, until=LATER, count=4)).tokens) == 4
    assert (await tokens.take(MESSAGES, "b", limit=10, now=NOW, until=LATER, count=2)).token is not None
    assert len((await tokens.take(MESSAGES, "e", limit=7, now=NOW, until=LATER, count=9)).tokens) == 1
    refused = await tokens.take(MESSAGES, "c", limit=7, now=NOW, until=LATER, count=5)
    assert (refused.tokens, refused.wait) == ((), timedelta(seconds=30))
    # Of 10, 7 are busy and c waits longer than d: d gets the 2 left over for it, not 5.
    rest = await tokens.take(MESSAGES, "d", limit=10, now=NOW, until=LATER, count=5)
    assert len(rest.tokens) == 2
    # Given back together, each from its own time; only the holder's own move.
    first, second = rest.tokens
    soon = NOW + timedelta(seconds=1)
    await tokens.give_back_many({first: NOW, second: soon}, "d")
    await tokens.give_back_many({first: NOW}, "a")  # not a's: nothing changes
    async with database.sessionmaker() as session:
        rows = await session.scalars(select(PacingTokenRow).where(PacingTokenRow.holder == "d"))
        assert {row.id: row.free_at for row in rows} == {first: NOW, second: soon}
