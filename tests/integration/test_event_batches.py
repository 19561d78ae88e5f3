"""Events (and local submissions) recorded in batches (group commit): fewer transactions, and the
same counts exactly.

However events are split into batches, writers or nodes, every window's count is the number of
its events, the first of each window is the one mailed, and each event's `repeats` is its place in
its window. Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event as sa_event
from sqlalchemy import select

from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.event_repository import SqlEventRepository
from alertmail.adapters.storage.models import EventWindowRow
from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from alertmail.domain.events import Event, EventRecorded, coalescing_bucket
from alertmail.domain.outbox import RetryPolicy, new_outbox_message
from tests.support.delivery import relay_changes

TYPES = ("failover.data_sync_failed", "failover.version_mismatch")
WINDOW = timedelta(minutes=10)


def commits_of(database: Database) -> list[int]:
    """A counter of the transactions committed on `database`, kept up to date."""
    counter = [0]

    def counted(_connection: object) -> None:
        counter[0] += 1

    for engine in database.sync_engines:  # SQLite: the batch writer's engine too
        sa_event.listen(engine, "commit", counted)
    return counter


async def test_concurrent_api_events_share_transactions(container: Container) -> None:
    await container.settings.save(relay_changes(2525), actor="test")
    commits = commits_of(container.database)
    raised = [
        container.notifications.raise_event(TYPES[n % 2], {"n": n}, dedupe_key=f"k{n % 7}")
        for n in range(200)
    ]
    results = await asyncio.gather(*raised)
    assert len({r.event_id for r in results}) == 200
    assert commits[0] <= 20  # one per batch, not one per event
    assert await container.notifications.recent(limit=1000) != []
    assert len(await container.notifications.recent(limit=1000)) == 200


async def test_concurrent_local_submissions_share_transactions(container: Container) -> None:
    """The SMTP listener's sessions and sendmail hand their messages to the same kind of writer."""
    await container.settings.save(relay_changes(2525), actor="test")
    commits = commits_of(container.database)
    raw = [f"To: ops@example.com\nSubject: disk {n}\n\nfull\n".encode() for n in range(100)]
    stored = await asyncio.gather(
        *(
            container.local_submission.submit(
                r, recipients=[], envelope_from=None, source="smtp-listener", recipients_from_headers=True
            )
            for r in raw
        )
    )
    assert sorted(m.subject for m in stored) == sorted(f"disk {n}" for n in range(100))
    assert commits[0] <= 10
    assert len(await container.outbox.list(limit=1000)) == 100


async def test_concurrent_writers_on_one_database_keep_every_window_exact(
    database_url: str, tmp_path: Path
) -> None:
    """Two containers (two writers, as two processes or nodes) raise repeats of 7 keys at once."""
    config = AppConfig(data_dir=tmp_path / "data", database_url=database_url, node_name="n1")
    async with open_container(config) as first, open_container(config.model_copy()) as second:
        await first.settings.save(relay_changes(2525), actor="test")
        raised = [
            node.notifications.raise_event(TYPES[n % 2], {"n": n}, dedupe_key=f"k{n % 7}")
            for n in range(150)
            for node in (first, second)
        ]
        results = await asyncio.gather(*raised)
        windows = await _windows(first.database)
    per_key = Counter((TYPES[n % 2], f"k{n % 7}") for n in range(150) for _ in (1, 2))
    assert {(w.event_type, w.dedupe_key): w.count for w in windows} == dict(per_key)
    assert all(w.mailed and w.coalesced == w.count - 1 for w in windows)
    assert Counter(r.disposition for r in results) == {
        "mailed": len(per_key),
        "coalesced": 300 - len(per_key),
    }
    assert sorted(r.repeats for r in results) == sorted(i + 1 for n in per_key.values() for i in range(n))


async def _windows(database: Database) -> list[EventWindowRow]:
    async with database.sessionmaker() as session:
        return list(await session.scalars(select(EventWindowRow)))


# --- batches give what one event at a time gives ----------------------------------------------

KEYS = st.lists(
    st.tuples(st.sampled_from(TYPES), st.sampled_from(["a", "b", "c", "d"])), min_size=1, max_size=30
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    keys=KEYS, cuts=st.lists(st.integers(min_value=1, max_value=30), max_size=6), mailed_cap=st.integers(1, 3)
)
async def test_any_split_into_batches_records_what_one_at_a_time_records(
    database: Database, keys: list[tuple[str, str]], cuts: list[int], mailed_cap: int
) -> None:
    repository = SqlEventRepository(database.sessionmaker, dialect=database.dialect, writer=database.writer)
    one_by_one = await _record(repository, keys, [1] * len(keys), mailed_cap)
    batched = await _record(repository, keys, cuts, mailed_cap)
    assert [_outcome(r) for r in batched] == [_outcome(r) for r in one_by_one]


_example = [0]


async def _record(
    repository: SqlEventRepository, keys: list[tuple[str, str]], cuts: list[int], mailed_cap: int
) -> list[EventRecorded]:
    """Record `keys` as events in a window of their own, in batches of the sizes `cuts` (then 1s)."""
    _example[0] += 1
    start, _ = coalescing_bucket(datetime(2026, 1, 1, tzinfo=UTC) + _example[0] * WINDOW, WINDOW)
    events = [_event(kind, key, start + timedelta(seconds=i)) for i, (kind, key) in enumerate(keys)]
    recorded: list[EventRecorded] = []
    sizes = iter(cuts)
    while len(recorded) < len(events):
        size = next(sizes, 1)
        batch = events[len(recorded) : len(recorded) + size]
        recorded += await repository.record_many(
            batch, window=WINDOW, max_mailed_keys=mailed_cap, make_messages=_messages
        )
    return recorded


def _event(kind: str, key: str, at: datetime) -> Event:
    return Event(str(uuid.uuid4()), kind, {"k": key}, key, "test", at)


async def _messages(events: list[Event]) -> list[Any]:
    return [_message(event) for event in events]


def _message(event: Event) -> Any:
    return new_outbox_message(
        event_type=event.event_type,
        recipients=("ops@example.com",),
        subject="s",
        text="t",
        html="h",
        from_address="alerts@example.com",
        now=event.received_at,
        policy=RetryPolicy(),
        dedupe_key=event.dedupe_key,
    )


def _outcome(recorded: EventRecorded) -> tuple[str, int, bool]:
    return recorded.disposition, recorded.repeats, recorded.outbox_id is not None


async def test_repeats_read_no_settings(container: Container) -> None:
    """Only events mailed at once need the settings (the recipients): a storm of repeats skips them."""
    await container.settings.save(relay_changes(2525), actor="test")
    first = await container.notifications.raise_event(TYPES[0], {}, dedupe_key="disk")
    seen: list[str] = []
    for engine in container.database.sync_engines:
        sa_event.listen(
            engine, "before_cursor_execute", lambda _conn, _cursor, statement, *_: seen.append(statement)
        )
    repeats = await asyncio.gather(
        *(container.notifications.raise_event(TYPES[0], {}, dedupe_key="disk") for _ in range(20))
    )
    assert first.disposition == "mailed" and {r.disposition for r in repeats} == {"coalesced"}
    assert seen and not any("mail_settings" in statement for statement in seen)
