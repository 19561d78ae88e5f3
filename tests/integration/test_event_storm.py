"""An alert storm: 10,000 events of 5 types make a bounded number of e-mails, and every event is kept.

The coalescing rule (services/notifications.py): per type and 10-minute window, at most
`max_mailed_keys` (10) dedupe keys are mailed one by one, and every other event of the window is
folded into one digest per type when the window ends. So 5 types cost at most 5 x (10 + 1) e-mails.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from alertmail.adapters.storage.event_repository import SqlEventRepository
from alertmail.composition import Container
from alertmail.domain.events import coalescing_bucket
from tests.support.delivery import FakeClock, Sinks, clocked_notifications, relay_changes

EVENTS = 10_000
KEYS = 100  # distinct dedupe keys per type
STEP = timedelta(milliseconds=20)  # 10,000 events over 200 s of the fake clock: one window


@pytest.mark.timeout(180)
async def test_a_storm_of_10000_events_is_all_recorded_and_makes_at_most_55_emails(
    container: Container, sinks: Sinks
) -> None:
    sink = await sinks.start()
    await container.settings.save(relay_changes(sink), actor="test")
    window = timedelta(minutes=container.config.coalesce_window_minutes)
    max_keys = container.config.coalesce_max_keys
    # An hour ago, a minute into a window: the whole storm fits in that window, and the worker
    # (on the wall clock) finds its e-mails due.
    start, end = coalescing_bucket(datetime.now(UTC) - timedelta(hours=1), window)
    clock = FakeClock(start + timedelta(minutes=1))
    notifications = clocked_notifications(container, clock)
    types = [kind.name for kind in notifications.event_types() if kind.name.startswith("failover.")][:5]
    assert len(types) == 5

    dispositions: Counter[str] = Counter()
    for number in range(EVENTS):
        kind = types[number % 5]
        key = f"node-{(number // 5) % KEYS}"
        recorded = await notifications.raise_event(kind, {"sequence": number}, dedupe_key=key)
        dispositions[recorded.disposition] += 1
        clock.advance(STEP)
    assert clock() < end

    events = SqlEventRepository(container.database.sessionmaker, dialect=container.database.dialect)
    assert await events.count() == EVENTS
    assert {kind: await events.count(event_type=kind) for kind in types} == {
        kind: EVENTS // 5 for kind in types
    }
    assert dispositions == {"mailed": 5 * max_keys, "coalesced": EVENTS - 5 * max_keys}
    assert sum((await container.outbox.counts()).values()) == 5 * max_keys

    assert await notifications.flush_digests() == 0  # the window has not ended yet
    clock.move_to(end)
    assert await notifications.flush_digests() == 5  # one digest per type
    assert await notifications.flush_digests() == 0  # and only one
    queued = await container.outbox.list(limit=1000)
    assert len(queued) == 5 * (max_keys + 1)

    digests = [m for m in queued if m.source == "digest"]
    per_type = EVENTS // 5 - max_keys
    assert sorted(m.event_type for m in digests) == sorted(types)
    for digest in digests:
        assert f"{per_type} more times" in digest.subject
        assert f"raised {per_type} more times" in digest.text
        assert f"and {KEYS - 20} more dedupe keys" in digest.text  # 20 listed one by one

    worker = container.delivery_worker
    try:
        while await worker.run_once():
            pass
    finally:
        await worker.close()
    assert len(sink.messages) == 5 * (max_keys + 1)
    assert (await container.outbox.counts())["sent"] == 5 * (max_keys + 1)
