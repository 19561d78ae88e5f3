"""Every claimed message is recorded, leases hold, and what a held message waits for survives a
restart: the delivery worker against real aiosmtpd relays, on SQLite and PostgreSQL.

Each test reproduces a finding of issue #12 that the worker had before:
- an error that was no transport failure (a message that cannot be built) made `run_once` raise
  while the other lane kept sending unrecorded, and the whole batch went out again after the lease;
- a batch slower than its lease was claimed and sent again by another worker, unseen;
- messages waiting on a refused login stayed `waiting_config` forever once the worker restarted.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alertmail.adapters.metrics import PrometheusMetrics
from alertmail.composition import Container
from alertmail.config import AppConfig
from alertmail.domain.outbox import WaitingFor
from alertmail.services.clock import utc_now
from alertmail.services.delivery import DeliveryOptions
from tests.support.delivery import (
    BACKOFF,
    FakeClock,
    Sinks,
    clocked_worker,
    delivery_config,
    outbox_of,
    queue_messages,
    relay_changes,
    wait_until,
)
from tests.support.delivery_checks import assert_each_delivered_once, delivery_log, drain, statuses


@pytest.fixture
def app_config(tmp_path: Path, database_url: str) -> AppConfig:
    return delivery_config(tmp_path / "data", database_url)


# --- every claimed message is recorded --------------------------------------------------------------


async def test_a_message_that_cannot_be_built_fails_alone_and_the_rest_of_its_batch_is_recorded(
    container: Container, sinks: Sinks
) -> None:
    clock = FakeClock()
    sink = await sinks.start()
    await container.settings.save(relay_changes(sink, max_connections=2), actor="test")
    [broken] = await queue_messages(container, 1, now=clock(), subject="Broken\nline")  # LF: cannot be built
    good = await queue_messages(container, 9, now=clock())
    worker = clocked_worker(container, clock, BACKOFF)
    try:
        assert await worker.run_once() == 10  # nothing escapes
        assert {m.status for m in await statuses(container, good)} == {"sent"}
        [failed] = await statuses(container, [broken])
        assert (failed.status, failed.last_category) == ("retry_wait", "internal")
        [entry] = await delivery_log(container)
        assert (entry.category, entry.retryable) == ("internal", True)
        assert "SettingsValidationError" in entry.message and broken.id in entry.context
        clock.advance(timedelta(minutes=5))  # past the lease and the backoff: only the broken one is due
        assert await worker.run_once() == 1
    finally:
        await worker.close()
    assert_each_delivered_once(sink, good)
    assert len(await delivery_log(container)) == 2


async def test_a_worker_loop_that_dies_is_restarted_and_logged(
    container: Container, sinks: Sinks, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The fault is injected where the loop itself runs, outside any batch: closing idle lanes."""
    sink = await sinks.start()
    await container.settings.save(relay_changes(sink), actor="test")
    worker = clocked_worker(container, utc_now, BACKOFF, options=DeliveryOptions(poll_interval=0.05))
    lanes = worker._lanes
    close_idle = lanes.close_idle

    async def fails_once() -> None:
        monkeypatch.setattr(lanes, "close_idle", close_idle)
        raise RuntimeError("injected: the loop failed between batches")

    monkeypatch.setattr(lanes, "close_idle", fails_once)
    running = asyncio.create_task(worker.run_forever())
    try:
        with caplog.at_level(logging.ERROR, logger="alertmail.services.delivery"):
            await wait_until(lambda: worker.restarts == 1, within=5)
        queued = await queue_messages(container, 3)
        worker.wake()
        await wait_until(lambda: len(sink.messages) == 3, within=10)
    finally:
        running.cancel()
        with suppress(asyncio.CancelledError):
            await running
    assert_each_delivered_once(sink, queued)
    assert "restarting it" in caplog.text and "injected" in caplog.text


# --- leases hold --------------------------------------------------------------------------------


@pytest.mark.timeout(60)
async def test_a_batch_slower_than_its_lease_is_renewed_and_no_other_worker_sends_it_again(
    container: Container, sinks: Sinks
) -> None:
    # Six messages over one connection: 6 s, twice the lease (long enough that a loaded machine
    # still renews in time: every third of the lease).
    sink = await sinks.start(data_delay=1.0)
    await container.settings.save(relay_changes(sink, max_connections=1), actor="test")
    queued = await queue_messages(container, 6)
    options = DeliveryOptions(lease=timedelta(seconds=3))
    metrics = PrometheusMetrics()
    worker = clocked_worker(container, utc_now, BACKOFF, options=options, observer=metrics)
    other = clocked_worker(container, utc_now, BACKOFF, options=options)
    try:
        sending = asyncio.create_task(worker.run_once())
        await wait_until(lambda: len(sink.messages) >= 1, within=10)
        while not sending.done():
            assert await other.run_once() == 0  # the other worker finds nothing to take over
            await asyncio.sleep(0.1)
        assert sending.result() == 6
    finally:
        await worker.close()
        await other.close()
    assert_each_delivered_once(sink, queued)
    assert metrics.registry.get_sample_value("alertmail_delivery_leases_lost_total") == 0


@pytest.mark.timeout(60)
async def test_a_lost_lease_is_logged_and_counted_in_metrics(
    container: Container, sinks: Sinks, caplog: pytest.LogCaptureFixture
) -> None:
    """Another worker whose clock runs five minutes ahead sees the leases expired and takes the
    batch over while it is sent: the sender's outcome no longer applies, and it says so."""
    sink = await sinks.start(data_delay=0.3)
    await container.settings.save(relay_changes(sink, max_connections=1), actor="test")
    queued = await queue_messages(container, 4)
    metrics = PrometheusMetrics()
    worker = clocked_worker(container, utc_now, BACKOFF, observer=metrics)
    try:
        sending = asyncio.create_task(worker.run_once())
        await wait_until(lambda: len(sink.messages) >= 1, within=10)
        ahead = datetime.now(UTC) + timedelta(minutes=5)
        taken = await outbox_of(container).claim("other-node:ahead", ahead, timedelta(minutes=5), 10)
        assert {m.id for m in taken} == {m.id for m in queued}
        with caplog.at_level(logging.WARNING, logger="alertmail.services.delivery_outcomes"):
            assert await sending == 4
    finally:
        await worker.close()
    assert metrics.registry.get_sample_value("alertmail_delivery_leases_lost_total") == 4
    assert "lost their lease" in caplog.text
    assert {m.status for m in await statuses(container, queued)} == {"sending"}  # the other worker's


# --- what a message waits for is stored ---------------------------------------------------------


async def test_messages_held_by_a_refused_login_are_released_by_a_worker_started_after_the_fix(
    container: Container, sinks: Sinks, tls_ca_pem: str
) -> None:
    sink = await sinks.start(tls="starttls", auth_required=True)
    login = {"auth_type": "basic", "username": "relay-user", "tls_trusted_ca": tls_ca_pem}
    refused = await container.settings.save(relay_changes(sink, password="wrong", **login), actor="test")
    queued = await queue_messages(container, 5)
    first = clocked_worker(container, utc_now, BACKOFF)
    await first.run_once()
    await first.close()  # the worker stops: nothing of what it knew survives but the database
    held = await statuses(container, queued)
    assert {(m.status, m.waiting_settings_version) for m in held} == {
        ("waiting_config", refused.stored.version)
    }
    logins = len(sink.auth_attempts)

    restarted = clocked_worker(container, utc_now, BACKOFF)  # nothing changed: nothing released
    assert await restarted.run_once() == 0
    await restarted.close()
    assert {m.status for m in await statuses(container, queued)} == {"waiting_config"}
    assert len(sink.auth_attempts) == logins

    await container.settings.save({"password": "relay-password"}, actor="test")
    fresh = clocked_worker(container, utc_now, BACKOFF)  # started after the fix, on any node
    try:
        await drain(fresh, container)
    finally:
        await fresh.close()
    assert_each_delivered_once(sink, queued)
    assert len(await delivery_log(container)) == 1


async def test_only_messages_waiting_on_another_settings_version_or_sign_in_are_released(
    container: Container,
) -> None:
    outbox = outbox_of(container)
    now = datetime.now(UTC)
    signed_in = now - timedelta(days=1)
    waits = [WaitingFor(3, None), WaitingFor(3, signed_in), WaitingFor(2, signed_in), WaitingFor(3, now)]
    queued = await queue_messages(container, len(waits), now=now)
    claimed = await outbox.claim("worker", now, timedelta(minutes=1), 10)
    assert len(claimed) == len(waits)
    for message, waiting_for in zip(queued, waits, strict=True):
        await outbox.release_unattempted(
            [message.id], "worker", status="waiting_config", next_attempt_at=None, waiting_for=waiting_for
        )
    assert await outbox.release_changed(now, WaitingFor(3, signed_in)) == 3
    statuses_now = [m.status for m in await statuses(container, queued)]
    assert statuses_now == ["queued", "waiting_config", "queued", "queued"]
    assert await outbox.release_changed(now, WaitingFor(3, signed_in)) == 0
