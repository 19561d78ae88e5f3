"""Group commit: items queued while a batch is written go into the next batch, and a bad item
fails only its own caller."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from alertmail.services.group_commit import GroupCommit


class Recorder:
    """A batch writer that takes a moment per batch and refuses negative numbers."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    async def write(self, items: Sequence[int]) -> list[int]:
        await asyncio.sleep(0.01)  # the time a commit takes; callers keep queueing meanwhile
        if any(item < 0 for item in items):
            raise ValueError(f"negative item in {list(items)}")
        self.batches.append(list(items))
        return [item * 10 for item in items]


async def test_concurrent_callers_share_batches_and_each_gets_its_own_result() -> None:
    recorder = Recorder()
    intake: GroupCommit[int, int] = GroupCommit(recorder.write)
    results = await asyncio.gather(*(intake.submit(n) for n in range(100)))
    assert results == [n * 10 for n in range(100)]
    assert sorted(n for batch in recorder.batches for n in batch) == list(range(100))
    assert len(recorder.batches) <= 2  # the first caller's batch, then everyone who queued meanwhile
    assert intake.batches == len(recorder.batches)


async def test_a_lone_item_is_written_at_once_in_a_batch_of_its_own() -> None:
    recorder = Recorder()
    intake: GroupCommit[int, int] = GroupCommit(recorder.write)
    assert await intake.submit(7) == 70
    assert await intake.submit(8) == 80
    assert recorder.batches == [[7], [8]]


async def test_batches_are_capped() -> None:
    recorder = Recorder()
    intake: GroupCommit[int, int] = GroupCommit(recorder.write, max_batch=16)
    await asyncio.gather(*(intake.submit(n) for n in range(100)))
    assert max(len(batch) for batch in recorder.batches) == 16


async def test_a_bad_item_fails_its_caller_only() -> None:
    recorder = Recorder()
    intake: GroupCommit[int, int] = GroupCommit(recorder.write)
    outcomes = await asyncio.gather(*(intake.submit(n) for n in (1, 2, -3, 4)), return_exceptions=True)
    assert outcomes[:2] == [10, 20] and outcomes[3] == 40
    assert isinstance(outcomes[2], ValueError)
    assert sorted(n for batch in recorder.batches for n in batch) == [1, 2, 4]


async def test_a_caller_that_gives_up_still_has_its_item_written() -> None:
    recorder = Recorder()
    intake: GroupCommit[int, int] = GroupCommit(recorder.write)
    waiting = asyncio.create_task(intake.submit(5))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await intake.submit(6) == 60
    assert [5] in recorder.batches
