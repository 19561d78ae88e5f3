"""What delivery tests look at in the database: message states, Mail Server Logs, a drained outbox."""

from __future__ import annotations

from collections.abc import Sequence

from alertmail.composition import Container
from alertmail.domain.outbox import OutboxMessage
from alertmail.domain.records import MailLogEntry
from alertmail.services.delivery import DeliveryWorker
from tests.support.delivery import DeliverySink, FakeClock, outbox_of

__all__ = ["assert_each_delivered_once", "delivery_log", "drain", "most_in_any_window", "statuses"]


def most_in_any_window(times: Sequence[float], window: float) -> int:
    """The most of `times` (seconds) that fall in any span [t, t + window): a sliding window whose
    start is each time in turn (a span holding the most always starts at one of them)."""
    ordered = sorted(times)
    most, first = 0, 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


async def statuses(container: Container, queued: Sequence[OutboxMessage]) -> list[OutboxMessage]:
    outbox = outbox_of(container)
    found = [await outbox.get(message.id) for message in queued]
    assert None not in found
    return [message for message in found if message is not None]


async def delivery_log(container: Container) -> list[MailLogEntry]:
    """The Mail Server Logs entries the worker wrote (its context names the outbox message)."""
    entries = await container.mail_logs.list(limit=1000)
    return [entry for entry in entries if entry.context.startswith("outbox ")]


async def drain(worker: DeliveryWorker, container: Container, clock: FakeClock | None = None) -> None:
    """Run the worker until nothing is left to send now (moving `clock` to each due time)."""
    for _ in range(200):
        if clock is not None:
            counts = await container.outbox.counts()
            waiting = await container.outbox.list("retry_wait", limit=1000)
            if waiting and not counts["queued"]:
                clock.move_to(min(m.next_attempt_at for m in waiting if m.next_attempt_at is not None))
        if not await worker.run_once():
            counts = await container.outbox.counts()
            if not counts["queued"] and not counts["retry_wait"] and not counts["sending"]:
                return
            if clock is None:
                raise AssertionError(f"the worker stopped with messages left: {counts}")
    raise AssertionError("the worker did not finish")


def assert_each_delivered_once(sink: DeliverySink, queued: Sequence[OutboxMessage]) -> None:
    assert sink.message_ids == {message.message_id: 1 for message in queued}
