"""A crash in the middle of sending: `alertmail serve` is SIGKILLed while it delivers 500 messages,
then started again. Nothing is lost, and at most the batch in flight is sent twice (counted at the
receiving server by Message-ID)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from alertmail.composition import open_container
from alertmail.config import AppConfig
from tests.support.delivery import (
    AlertmailProcess,
    Sinks,
    alertmail_env,
    free_port,
    queue_messages,
    relay_changes,
    wait_until,
)

MESSAGES = 500
BATCH = 20  # ALERTMAIL_DELIVERY_BATCH_SIZE: the most a crash can send twice
LEASE_SECONDS = 3  # a crashed worker's batch is claimed again this soon


@pytest.mark.timeout(90)
async def test_sigkill_while_sending_500_loses_nothing_and_repeats_at_most_one_batch(
    tmp_path: Path, sinks: Sinks
) -> None:
    sink = await sinks.start(data_delay=0.01)  # ~10 ms a message: the kill lands mid-way
    data_dir = tmp_path / "data"
    async with open_container(AppConfig(data_dir=data_dir, node_name="crash-node")) as container:
        await container.settings.save(relay_changes(sink), actor="test")
        queued = await queue_messages(container, MESSAGES)
    env = alertmail_env(
        data_dir,
        node_name="crash-node",
        delivery_batch_size=str(BATCH),
        delivery_lease_seconds=str(LEASE_SECONDS),
        delivery_poll_seconds="0.2",
    )
    port = free_port()
    serve = AlertmailProcess(["serve", "--port", str(port)], env, tmp_path / "serve.log")
    await serve.start()
    try:
        await wait_until(lambda: len(sink.messages) >= MESSAGES // 4, within=30)
        await serve.kill()
        assert serve.process.returncode == -signal.SIGKILL
        at_kill = len(sink.messages)
        assert at_kill < MESSAGES, "the kill came too late to test anything"

        again = AlertmailProcess(["serve", "--port", str(port)], env, tmp_path / "serve-again.log")
        await again.start()
        try:
            await wait_until(lambda: len(sink.message_ids) >= MESSAGES, within=45, interval=0.05)
            await again.wait_healthy(f"http://127.0.0.1:{port}")
        finally:
            await again.stop()
    finally:
        await serve.kill()

    assert set(sink.message_ids) == {m.message_id for m in queued}
    assert sink.duplicates <= BATCH, sink.duplicates
    assert max(sink.message_ids.values()) <= 2
    async with open_container(AppConfig(data_dir=data_dir)) as container:
        counts = await container.outbox.counts()
    assert counts["sent"] == MESSAGES, counts
