"""The delivery worker against real aiosmtpd relays: outages, throttling, refused logins and
recipients, connection reuse and pacing.

Backoff is driven by a `FakeClock` (tests/support/delivery.py) rather than by waiting; everything
else is real: the SQLite outbox, the SMTP transport, Mail Server Logs, a relay on 127.0.0.1.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from alertmail.composition import Container
from alertmail.config import AppConfig
from alertmail.services.clock import utc_now
from alertmail.services.delivery import DeliveryOptions, DeliveryWorker
from tests.support.delivery import (
    BACKOFF,
    FakeClock,
    Sinks,
    clocked_worker,
    delivery_config,
    outbox_of,
    queue_messages,
    relay_changes,
)
from tests.support.delivery_checks import (
    assert_each_delivered_once,
    delivery_log,
    drain,
    most_in_any_window,
    statuses,
)
from tests.support.smtp import TRY_AGAIN_LATER, user_unknown


@pytest.fixture
def app_config(tmp_path: Path) -> AppConfig:
    return delivery_config(tmp_path / "data")


# --- relay down, then up --------------------------------------------------------------------------


async def test_relay_down_holds_50_messages_then_delivers_each_once_when_it_comes_up(
    container: Container, sinks: Sinks, refused_port: int
) -> None:
    clock = FakeClock()
    await container.settings.save(relay_changes(refused_port), actor="test")
    queued = await queue_messages(container, 50, now=clock())
    worker = clocked_worker(container, clock, BACKOFF)
    try:
        for round_number in range(1, 4):
            await worker.run_once()
            held = await statuses(container, queued)
            assert {m.status for m in held} == {"retry_wait"}
            assert all(m.next_attempt_at is not None and m.next_attempt_at > clock() for m in held)
            # One entry per round that met the dead relay, not one per message.
            log = await delivery_log(container)
            assert len(log) == round_number
            assert {entry.category for entry in log} == {"connect_refused"}
            assert await worker.run_once() == 0  # backing off: nothing claimed, nothing logged
            assert len(await delivery_log(container)) == round_number
            clock.move_to(min(m.next_attempt_at for m in held if m.next_attempt_at is not None))

        sink = await sinks.start(port=refused_port)  # the relay comes back where it was
        await drain(worker, container, clock)
    finally:
        await worker.close()

    assert_each_delivered_once(sink, queued)
    assert {m.status for m in await statuses(container, queued)} == {"sent"}
    assert len(await delivery_log(container)) == 3


# --- throttled, refused login, refused recipient --------------------------------------------------


async def test_421_at_greeting_backs_off_longer_each_time_and_delivers_when_the_relay_recovers(
    container: Container, sinks: Sinks
) -> None:
    clock = FakeClock()
    throttled = await sinks.start(greeting=TRY_AGAIN_LATER)
    await container.settings.save(relay_changes(throttled, max_connections=1), actor="test")
    queued = await queue_messages(container, 5, now=clock())
    worker = clocked_worker(container, clock, BACKOFF)
    try:
        holds = [await throttled_round(worker, container, clock) for _ in range(4)]
        # Exponential backoff (10 s doubling, no jitter): the relay is left alone longer each time.
        assert holds == [timedelta(seconds=s) for s in (10, 20, 40, 80)]
        log = await delivery_log(container)
        assert {(entry.category, entry.smtp_code, entry.retryable) for entry in log} == {
            ("smtp_throttled", 421, True)
        }
        assert len(log) == 4 == throttled.connections

        port = throttled.port
        await throttled.stop()
        recovered = await sinks.start(port=port)
        await drain(worker, container, clock)
    finally:
        await worker.close()
    assert_each_delivered_once(recovered, queued)
    assert len(await delivery_log(container)) == 4


async def test_new_alerts_during_a_421_outage_do_not_reset_the_backoff(
    container: Container, sinks: Sinks
) -> None:
    """The relay's backoff is the relay's: a message that arrives during the outage (its own
    first attempt) must not bring the retries back to the first delay, over any connection."""
    clock = FakeClock()
    throttled = await sinks.start(greeting=TRY_AGAIN_LATER)
    await container.settings.save(relay_changes(throttled), actor="test")
    await queue_messages(container, 5, now=clock())
    worker = clocked_worker(container, clock, BACKOFF)
    holds = []
    try:
        for number in range(4):
            holds.append(await throttled_round(worker, container, clock))
            await queue_messages(container, 1, now=clock(), subject=f"New alert {number}")
    finally:
        await worker.close()
    assert holds == sorted(holds) and holds[-1] >= 4 * holds[0], holds
    assert len(await delivery_log(container)) == 4


async def throttled_round(worker: DeliveryWorker, container: Container, clock: FakeClock) -> timedelta:
    """One run of the worker against the throttling relay: how long it now leaves the relay alone."""
    assert await worker.run_once() > 0
    held = await container.outbox.list("retry_wait", limit=1000)
    assert held and (await container.outbox.counts())["queued"] == 0
    assert await worker.run_once() == 0  # still held: nothing claimed
    due = min(m.next_attempt_at for m in held if m.next_attempt_at is not None)
    hold = due - clock()
    clock.move_to(due)
    return hold


async def test_535_logs_once_holds_messages_until_the_settings_change_then_sends_them(
    container: Container, sinks: Sinks, tls_ca_pem: str
) -> None:
    sink = await sinks.start(tls="starttls", auth_required=True)
    login = {"auth_type": "basic", "username": "relay-user", "tls_trusted_ca": tls_ca_pem}
    await container.settings.save(relay_changes(sink, password="wrong", **login), actor="test")
    queued = await queue_messages(container, 12)
    worker = container.delivery_worker
    try:
        await worker.run_once()
        refused_logins = len(sink.auth_attempts)
        assert refused_logins >= 1 and not any(a.success for a in sink.auth_attempts)
        for _ in range(5):  # no retry loop: the relay is not asked again, nothing more is logged
            assert await worker.run_once() == 0
        assert worker.blocked
        assert len(sink.auth_attempts) == refused_logins
        [entry] = await delivery_log(container)
        assert (entry.category, entry.smtp_code, entry.retryable) == ("smtp_auth", 535, False)
        # What the worker claimed waits for the configuration; the rest stays queued, untried.
        held = [m.status for m in await statuses(container, queued)]
        assert "waiting_config" in held and set(held) <= {"waiting_config", "queued"}
        assert sink.messages == []

        await container.settings.save({"password": "relay-password"}, actor="test")
        await drain(worker, container)
    finally:
        await worker.close()
    assert not worker.blocked
    assert_each_delivered_once(sink, queued)
    assert all(received.authenticated_as == "relay-user" and received.tls for received in sink.messages)
    assert len(await delivery_log(container)) == 1


async def test_550_recipient_is_dead_at_once_and_reported_by_a_dead_lettered_event(
    container: Container, sinks: Sinks
) -> None:
    sink = await sinks.start(rcpt_replies={"gone@example.com": user_unknown("gone@example.com")})
    await container.settings.save(relay_changes(sink), actor="test")
    [doomed] = await queue_messages(container, 1, recipients=["gone@example.com"], subject="Doomed")
    fine = await queue_messages(container, 3, subject="Fine")
    worker = container.delivery_worker
    try:
        await worker.run_once()
        [dead] = await statuses(container, [doomed])
        assert (dead.status, dead.attempts, dead.last_category) == ("dead", 1, "smtp_recipient")
        assert {m.status for m in await statuses(container, fine)} == {"sent"}

        [event] = await container.notifications.recent(event_type="delivery.dead_lettered")
        assert event.event.details["message_id"] == doomed.message_id
        assert event.disposition == "mailed" and event.outbox_id is not None

        await drain(worker, container)  # the notice goes to the admin contacts
    finally:
        await worker.close()
    [notice] = [m for m in sink.messages if m.message["Message-ID"] not in {x.message_id for x in fine}]
    assert set(notice.rcpt_tos) == {"ops@example.com", "oncall@example.com"}
    assert doomed.message_id in notice.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    [entry] = await delivery_log(container)
    assert (entry.category, entry.smtp_code) == ("smtp_recipient", 550)
    later = dead.created_at + timedelta(days=30)
    assert await outbox_of(container).claim("probe", later, timedelta(seconds=1), 10) == []  # never again


# --- sending well ---------------------------------------------------------------------------------


async def test_connections_are_reused_across_messages_and_batches_up_to_max_connections(
    container: Container, sinks: Sinks
) -> None:
    sink = await sinks.start()
    await container.settings.save(relay_changes(sink, max_connections=2), actor="test")
    first = await queue_messages(container, 40, recipients=["ops@example.com", "oncall@example.com"])
    worker = container.delivery_worker
    try:
        await drain(worker, container)  # four batches of 10
        assert (sink.connections, sink.peak_open) == (2, 2)
        second = await queue_messages(container, 15)
        await drain(worker, container)
        assert sink.connections == 2  # the same two connections, kept open between batches
    finally:
        await worker.close()
    assert_each_delivered_once(sink, [*first, *second])
    # Several admin contacts: one message with several recipients, not one message each.
    assert sink.messages[0].rcpt_tos == ("ops@example.com", "oncall@example.com")


async def test_messages_per_minute_holds_in_any_window_over_three_connections(
    container: Container, sinks: Sinks
) -> None:
    """Five a window over three connections: five go at once, the next five a window after those
    ended, and so on; never more than five in any window at the relay. The window is a second
    here (a minute in production: `DeliveryOptions.pacing_window`); the tokens are the same."""
    sink = await sinks.start()
    await container.settings.save(relay_changes(sink, messages_per_minute=5), actor="test")
    queued = await queue_messages(container, 12)
    options = DeliveryOptions(batch_size=12, pacing_window=timedelta(seconds=1))
    worker = clocked_worker(container, utc_now, BACKOFF, options=options)
    try:
        await drain(worker, container)
    finally:
        await worker.close()
    assert_each_delivered_once(sink, queued)
    assert most_in_any_window(sink.arrivals, 1.0) == 5, sink.arrivals
    # Twelve at five a window: the third window's two come two windows after the first five.
    assert sink.arrivals[-1] - sink.arrivals[0] >= 2.0, sink.arrivals
    assert sink.peak_open <= 3
