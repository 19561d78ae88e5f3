"""Per-recipient outcomes against real aiosmtpd relays, on SQLite and PostgreSQL.

A relay that refuses one recipient at RCPT and accepts the others: the accepted ones get the
message once, only the refused one is tried again (4xx) or given up (5xx), each refusal has one
Mail Server Logs entry naming the recipient, and a refusal about one recipient never holds the
other alerts. Before per-recipient outcomes, the whole message was retried to everyone (the
accepted contact got the same alert 101 times over the 48-hour lifetime).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from alertmail.composition import Container
from alertmail.config import AppConfig
from tests.support.delivery import (
    BACKOFF,
    DeliverySink,
    FakeClock,
    Sinks,
    clocked_worker,
    delivery_config,
    queue_messages,
    relay_changes,
)
from tests.support.delivery_checks import delivery_log, drain, statuses
from tests.support.smtp import user_unknown

OPS, ONCALL, LEAD = "ops@example.com", "oncall@example.com", "lead@example.com"
MAILBOX_FULL = "452 4.2.2 Mailbox full"
GREYLISTED = "450 4.7.1 Greylisted, please try again later"


@pytest.fixture
def app_config(tmp_path: Path, database_url: str) -> AppConfig:
    return delivery_config(tmp_path / "data", database_url)


def copies(sink: DeliverySink) -> Counter[str]:
    """How many copies each recipient received."""
    return Counter(recipient for received in sink.messages for recipient in received.rcpt_tos)


async def test_452_to_one_recipient_reaches_the_other_once_and_retries_only_the_refused_one(
    container: Container, sinks: Sinks
) -> None:
    clock = FakeClock()
    sink = await sinks.start(rcpt_replies={ONCALL: MAILBOX_FULL})
    await container.settings.save(relay_changes(sink), actor="test")
    [queued] = await queue_messages(container, 1, recipients=[OPS, ONCALL], now=clock())
    worker = clocked_worker(container, clock, BACKOFF)
    try:
        for attempt in range(1, 4):
            assert await worker.run_once() == 1
            [held] = await statuses(container, [queued])
            assert held.status == "retry_wait", held
            assert (held.delivered_recipients, held.pending_recipients) == ((OPS,), (ONCALL,))
            assert copies(sink) == {OPS: 1}
            log = await delivery_log(container)
            assert len(log) == attempt and all(entry.context.endswith(f"to {ONCALL}") for entry in log)
            assert {(entry.smtp_code, entry.retryable) for entry in log} == {(452, True)}
            assert held.next_attempt_at is not None
            clock.move_to(held.next_attempt_at)

        sink.options = replace(sink.options, rcpt_replies={})  # the mailbox has room again
        await drain(worker, container, clock)
    finally:
        await worker.close()
    [done] = await statuses(container, [queued])
    assert (done.status, done.delivered_recipients) == ("sent", (OPS, ONCALL))
    assert copies(sink) == {OPS: 1, ONCALL: 1}
    assert [received.rcpt_tos for received in sink.messages] == [(OPS,), (ONCALL,)]
    # Both copies are the one message: the same Message-ID, the To header naming both.
    assert sink.message_ids == {queued.message_id: 2}
    assert len(await delivery_log(container)) == 3


async def test_450_at_rcpt_holds_neither_the_relay_nor_the_other_alerts(
    container: Container, sinks: Sinks
) -> None:
    clock = FakeClock()
    sink = await sinks.start(rcpt_replies={LEAD: GREYLISTED})
    await container.settings.save(relay_changes(sink, max_connections=1), actor="test")
    [greylisted] = await queue_messages(container, 1, recipients=[LEAD], now=clock(), subject="Greylisted")
    others = await queue_messages(container, 5, recipients=[OPS], now=clock())
    worker = clocked_worker(container, clock, BACKOFF)
    try:
        assert await worker.run_once() == 6
        assert {m.status for m in await statuses(container, others)} == {"sent"}
        [held] = await statuses(container, [greylisted])
        assert held.status == "retry_wait"
        # No relay-wide backoff: an alert queued now goes out at once, on the same clock.
        later = await queue_messages(container, 1, recipients=[OPS], now=clock(), subject="Later")
        assert await worker.run_once() == 1
        assert {m.status for m in await statuses(container, later)} == {"sent"}
    finally:
        await worker.close()
    [entry] = await delivery_log(container)
    assert (entry.smtp_code, entry.context.endswith(f"to {LEAD}")) == (450, True)
    assert copies(sink) == {OPS: 6}


async def test_550_to_one_of_three_is_final_for_it_alone_and_the_notice_says_who_got_it(
    container: Container, sinks: Sinks
) -> None:
    gone = "gone@example.com"
    sink = await sinks.start(rcpt_replies={gone: user_unknown(gone), ONCALL: MAILBOX_FULL})
    await container.settings.save(relay_changes(sink), actor="test")
    clock = FakeClock()
    [queued] = await queue_messages(
        container, 1, recipients=[OPS, gone, ONCALL], now=clock(), subject="Split"
    )
    worker = clocked_worker(container, clock, BACKOFF)
    try:
        assert await worker.run_once() == 1
        [held] = await statuses(container, [queued])
        assert held.status == "retry_wait"
        assert {r: held.state_of(r) for r in held.recipients} == {
            OPS: "sent",
            gone: "dead",
            ONCALL: "pending",
        }
        # Each refused recipient keeps the relay's own reply to it, not the message's last error.
        assert {r: str(reply) for r, reply in held.recipient_replies.items()} == {
            gone: user_unknown(gone),
            ONCALL: MAILBOX_FULL,
        }
        assert held.dead_at is None  # one recipient refused for good, the message not yet dead
        sink.options = replace(sink.options, rcpt_replies={gone: user_unknown(gone)})
        assert held.next_attempt_at is not None
        clock.move_to(held.next_attempt_at)
        assert await worker.run_once() == 1
    finally:
        await worker.close()
    [dead] = await statuses(container, [queued])
    assert (dead.status, dead.delivered_recipients, dead.undelivered_recipients) == (
        "dead",
        (OPS, ONCALL),
        (gone,),
    )
    assert copies(sink) == {OPS: 1, ONCALL: 1}
    assert {r: str(reply) for r, reply in dead.recipient_replies.items()} == {gone: user_unknown(gone)}
    assert dead.dead_at == clock()  # the attempt that ended its last pending recipient
    log = await delivery_log(container)
    assert sorted((entry.smtp_code, entry.context.rsplit(" ", 1)[-1]) for entry in log) == [
        (452, ONCALL),
        (550, gone),
    ]
    [event] = await container.notifications.recent(event_type="delivery.dead_lettered")
    details = event.event.details
    assert (details["delivered_to"], details["not_delivered_to"]) == (f"{OPS}, {ONCALL}", gone)
    assert gone in details["reason"]


async def test_a_dead_message_retried_by_hand_goes_only_to_the_recipients_that_never_got_it(
    container: Container, sinks: Sinks
) -> None:
    gone = "gone@example.com"
    sink = await sinks.start(rcpt_replies={gone: user_unknown(gone)})
    await container.settings.save(relay_changes(sink), actor="test")
    clock = FakeClock()
    [queued] = await queue_messages(container, 1, recipients=[OPS, gone], now=clock(), subject="Again")
    worker = clocked_worker(container, clock, BACKOFF)
    try:
        assert await worker.run_once() == 1
        assert (await container.outbox.retry(queued.id)).pending_recipients == (gone,)
        sink.options = replace(sink.options, rcpt_replies={})  # the address was fixed at the relay
        clock.advance(timedelta(minutes=1))  # the retry is due at the wall clock's now
        assert await worker.run_once() >= 1
    finally:
        await worker.close()
    [sent] = await statuses(container, [queued])
    assert sent.status == "sent"
    assert [received.rcpt_tos for received in sink.messages if received.message["Subject"] == "Again 0"] == [
        (OPS,),
        (gone,),
    ]
