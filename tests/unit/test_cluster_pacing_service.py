"""The pacing service (services/pacing.py) over a fake of the token port, on a fake clock whose
sleeps move time on: how it waits, renews, gives back, and what a cancelled caller leaves."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from alertmail.domain.pacing import CONNECTIONS, MESSAGES, WINDOW, Taken, wait_for_token
from alertmail.domain.pacing import busy as busy_at
from alertmail.services.pacing import ClusterPacing

START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)


class FakeTokens:
    """The port in memory, with the repository's rule (no waiting order: one taker here)."""

    def __init__(self) -> None:
        self.free_at: dict[str, tuple[str, str, datetime]] = {}  # token -> bucket, holder, free_at
        self.withdrawn: list[str] = []
        self.taking = asyncio.Event()  # set while a take is in progress
        self.hold_take: asyncio.Event | None = None  # a take waits for this before it completes
        self.takes = 0
        self.writes_back = 0  # give_back_many calls

    async def take(
        self, bucket: str, holder: str, *, limit: int, now: datetime, until: datetime, count: int = 1
    ) -> Taken:
        if self.hold_take is not None:
            self.taking.set()
            await self.hold_take.wait()
        self.takes += 1
        busy = [free for of, _, free in self.free_at.values() if of == bucket]
        wait = wait_for_token(busy, now, limit)
        if wait is not None:
            return Taken(None, wait)
        taken = []
        for _ in range(min(count, limit - len(busy_at(busy, now)))):
            taken.append(f"t{len(self.free_at)}")
            self.free_at[taken[-1]] = (bucket, holder, until)
        return Taken(taken[0], more=tuple(taken[1:]))

    async def renew(self, tokens: Sequence[str], holder: str, until: datetime) -> set[str]:
        for token in tokens:
            bucket, _, _ = self.free_at[token]
            self.free_at[token] = (bucket, holder, until)
        return set(tokens)

    async def give_back(self, token: str, holder: str, free_at: datetime) -> None:
        bucket, _, _ = self.free_at[token]
        self.free_at[token] = (bucket, holder, free_at)

    async def give_back_many(self, free_at: Mapping[str, datetime], holder: str) -> None:
        self.writes_back += 1
        for token, free in free_at.items():
            await self.give_back(token, holder, free)

    async def withdraw(self, bucket: str, holder: str) -> None:
        self.withdrawn.append(bucket)

    async def others_wait(self, bucket: str, holder: str, now: datetime) -> bool:
        return False


async def test_the_third_message_at_two_a_window_waits_for_the_first_token_to_come_back() -> None:
    clock, tokens = Clock(), FakeTokens()
    pacing = ClusterPacing(tokens, "w1", clock=clock, sleep=clock.sleep, max_poll=5.0)
    sent_at = []
    for _ in range(3):
        async with pacing.message(2):
            sent_at.append(clock.now)
            clock.now += timedelta(seconds=1)  # the relay takes a second to answer
    await pacing.close()
    assert sent_at[:2] == [START, START + timedelta(seconds=1)]
    # Back a window after its reply (START + 1 s), asked for every max_poll seconds at most.
    assert sent_at[2] == START + timedelta(seconds=1) + WINDOW
    assert max(clock.slept) <= 5.0


async def test_a_connection_no_longer_needed_stops_the_wait_and_withdraws() -> None:
    clock, tokens = Clock(), FakeTokens()
    pacing = ClusterPacing(tokens, "w1", clock=clock, sleep=clock.sleep)
    first = await pacing.take_connection(1, lambda: True)
    asks = iter([True, True, False])
    assert await pacing.take_connection(1, lambda: next(asks)) is None
    assert tokens.withdrawn == [CONNECTIONS]
    assert first is not None
    await pacing.give_back(first)
    assert tokens.free_at[first][2] == clock.now  # a connection's token is free at once
    await pacing.close()


async def test_held_tokens_are_renewed_while_held() -> None:
    clock, tokens = Clock(), FakeTokens()
    lease = timedelta(seconds=15)
    pacing = ClusterPacing(tokens, "w1", clock=clock, sleep=clock.sleep, lease=lease)
    token = await pacing.take_connection(3, lambda: True)
    assert token is not None
    for _ in range(5):
        await asyncio.sleep(0)  # the renewer sleeps a third of the lease (on the fake clock), renews
    assert tokens.free_at[token][2] > START + lease  # renewed past its first expiry
    await pacing.close()


async def test_a_take_cut_short_by_cancellation_still_completes_and_its_token_goes_back() -> None:
    clock, tokens = Clock(), FakeTokens()
    tokens.hold_take = asyncio.Event()
    pacing = ClusterPacing(tokens, "w1", clock=clock, sleep=clock.sleep)
    waiting = asyncio.create_task(pacing.take_connection(1, lambda: True))
    await tokens.taking.wait()
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    tokens.hold_take.set()  # the database answers after all
    await pacing.close()  # waits for the writes it let finish
    [(bucket, _, free_at)] = tokens.free_at.values()
    assert (bucket, free_at) == (CONNECTIONS, clock.now)  # taken, then given straight back


async def test_no_limit_takes_no_token() -> None:
    clock, tokens = Clock(), FakeTokens()
    pacing = ClusterPacing(tokens, "w1", clock=clock, sleep=clock.sleep)
    async with pacing.message(0):
        pass
    assert tokens.free_at == {}
    assert MESSAGES not in tokens.withdrawn


async def test_a_batch_takes_its_message_tokens_in_one_write_and_gives_them_back_in_one() -> None:
    clock, tokens = Clock(), FakeTokens()
    pacing = ClusterPacing(tokens, "w1", clock=clock, sleep=clock.sleep)
    ended = []
    for left in range(5, 0, -1):
        async with pacing.message(100, wanted=left):
            clock.now += timedelta(seconds=1)
            ended.append(clock.now)
    assert (tokens.takes, tokens.writes_back) == (1, 0)
    await pacing.settle()
    assert tokens.writes_back == 1
    # Each one busy for a window after its own message: what a give-back per message wrote.
    assert sorted(free for _, _, free in tokens.free_at.values()) == [at + WINDOW for at in ended]
    await pacing.close()


async def test_tokens_taken_ahead_are_a_tenth_of_the_limit_at_most_and_unused_ones_free_at_once() -> None:
    clock, tokens = Clock(), FakeTokens()
    pacing = ClusterPacing(tokens, "w1", clock=clock, sleep=clock.sleep)
    async with pacing.message(30, wanted=8):  # 3 taken: a tenth of 30
        clock.now += timedelta(seconds=1)
    assert len(tokens.free_at) == 3
    await pacing.settle()  # the batch stopped after one message (a relay failure, say)
    free = sorted(free for _, _, free in tokens.free_at.values())
    assert free == [clock.now, clock.now, clock.now + WINDOW]
    await pacing.close()


async def test_a_lane_waiting_for_tokens_gives_back_what_was_used_first() -> None:
    clock, tokens = Clock(), FakeTokens()
    pacing = ClusterPacing(tokens, "w1", clock=clock, sleep=clock.sleep, max_poll=5.0)
    async with pacing.message(1, wanted=2):
        clock.now += timedelta(seconds=1)
    async with pacing.message(1, wanted=1):  # waits for the first token, given back with its time
        sent = clock.now
    assert sent == START + timedelta(seconds=1) + WINDOW
    await pacing.close()
