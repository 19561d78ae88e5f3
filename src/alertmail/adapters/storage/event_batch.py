"""A batch of events recorded in one transaction, with a handful of statements whatever its size.

The events are grouped by coalescing window (type, dedupe key, bucket). One multi-row upsert adds
each group's size to its window's count and returns the new counts: a window whose count equals
its group's size was created by this batch, so the group's first event is the window's first
event and may be mailed at once; every other event is a repeat. The rule is the one of
`SqlEventRepository.record`, applied to many events at once, so the per-window counts add up
exactly however events are split into batches, processes or nodes: the upsert is atomic per row
(SQLite: the transaction holds the write lock from `BEGIN IMMEDIATE`; PostgreSQL: the row lock).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    Executable,
    Select,
    Table,
    bindparam,
    func,
    insert,
    select,
    tuple_,
    update,
)

from alertmail.adapters.storage.models import EventRow, EventWindowRow, OutboxRow
from alertmail.adapters.storage.outbox_repository import outbox_values
from alertmail.adapters.storage.upsert import upsert_into
from alertmail.domain.events import Disposition, Event, EventRecorded, coalescing_bucket
from alertmail.domain.outbox import OutboxMessage

__all__ = ["MakeMessagesNow", "record_batch"]

# The e-mails of the events mailed at once (None: nobody to mail), asked for only when there are
# some: under a storm most batches mail nothing, and then nothing else (the settings) is read.
# Called inside the transaction and waited for (the caller runs the service's coroutine).
MakeMessagesNow = Callable[[list[Event]], list[OutboxMessage | None]]
# Core tables, not the ORM classes: the rows are plain dicts, and Core's executemany renders one
# compiled (cached) statement for any batch size, where the ORM's bulk path costs more than SQL.
_EVENTS: Table = EventRow.__table__  # type: ignore[assignment]
_OUTBOX: Table = OutboxRow.__table__  # type: ignore[assignment]
_WINDOWS: Table = EventWindowRow.__table__  # type: ignore[assignment]
WindowKey = tuple[str, str, datetime]  # event type, dedupe key, bucket start


@dataclass
class _Group:
    """The events of one window in this batch, in arrival order."""

    key: WindowKey
    closes_at: datetime
    events: list[Event] = field(default_factory=list)
    window_id: int = 0
    count: int = 0  # the window's count after this batch

    @property
    def fresh(self) -> bool:
        return self.count == len(self.events)


def record_batch(
    connection: Connection,
    events: Sequence[Event],
    *,
    window: timedelta,
    max_mailed_keys: int,
    make_messages: MakeMessagesNow,
) -> list[EventRecorded]:
    """Record `events` (in one open transaction) and queue the e-mails of the first of each window.

    Synchronous, so that on SQLite the whole batch runs in one hand-off to the writer's thread
    (see sqlite_writer.py); on PostgreSQL it runs through `run_sync` on the async connection."""
    groups = _grouped(events, window)
    _count(connection, groups)
    mailed = _choose_mailed(connection, groups, max_mailed_keys)
    made = make_messages([group.events[0] for group in mailed]) if mailed else []
    messages = {group.key: m for group, m in zip(mailed, made, strict=True) if m is not None}
    if messages:
        connection.execute(insert(_OUTBOX), [outbox_values(m) for m in messages.values()])
    _settle(connection, groups, messages)
    recorded, rows = _outcomes(groups, messages, mailed)
    connection.execute(insert(_EVENTS), rows)
    by_id = {r.event_id: r for r in recorded}
    return [by_id[event.id] for event in events]


def _grouped(events: Sequence[Event], window: timedelta) -> list[_Group]:
    groups: dict[WindowKey, _Group] = {}
    for event in events:
        start, end = coalescing_bucket(event.received_at, window)
        key = (event.event_type, event.dedupe_key, start)
        groups.setdefault(key, _Group(key, end)).events.append(event)
    return list(groups.values())


# The statements are built once: building one costs more CPU than running it (the upsert's
# `excluded` alias alone was a tenth of a batch), and their compiled forms are cached by SQLAlchemy.


_WINDOW_COLUMNS = (
    "event_type",
    "dedupe_key",
    "bucket_start",
    "closes_at",
    "count",
    "coalesced",
    "first_at",
    "last_at",
    "mailed",
    "digest_pending",
)


@cache
def _upsert(dialect: str) -> Executable:
    if dialect == "postgresql":
        # The rows as one array per column: the same short text for any batch size, so psycopg
        # parses it once and PostgreSQL prepares it, where the multi-row VALUES of a batch (new
        # text for each size, too long for psycopg's cache) was parsed anew every batch.
        rows = upsert_into(_WINDOWS, dialect).from_select(_WINDOW_COLUMNS, _unnested(_WINDOW_COLUMNS))
    else:
        rows = upsert_into(_WINDOWS, dialect)
    return rows.on_conflict_do_update(
        index_elements=["event_type", "dedupe_key", "bucket_start"],
        # Repeats of a window that exists are all coalesced: counted for its digest.
        set_={
            "count": _WINDOWS.c.count + rows.excluded.count,
            "coalesced": _WINDOWS.c.coalesced + rows.excluded.count,
            "last_at": rows.excluded.last_at,
            "digest_pending": True,
        },
    ).returning(
        _WINDOWS.c.id, _WINDOWS.c.count, _WINDOWS.c.event_type, _WINDOWS.c.dedupe_key, _WINDOWS.c.bucket_start
    )


def _unnested(names: Sequence[str]) -> Select[Any]:
    """SELECT * FROM unnest(:a, :b, ...): one parameter per column, a list of its values."""
    # psycopg's dialect casts each to its array type (`%(count)s::INTEGER[]`).
    arrays = [bindparam(name, type_=ARRAY(_WINDOWS.c[name].type)) for name in names]
    rows = func.unnest(*arrays).table_valued(*names).render_derived()
    return select(*(rows.c[name] for name in names))


_MAILED_IN_BUCKETS = (
    select(_WINDOWS.c.event_type, _WINDOWS.c.bucket_start, func.count())
    .where(
        tuple_(_WINDOWS.c.event_type, _WINDOWS.c.bucket_start).in_(bindparam("buckets", expanding=True)),
        _WINDOWS.c.mailed.is_(True),
    )
    .group_by(_WINDOWS.c.event_type, _WINDOWS.c.bucket_start)
)
_MARK_MAILED = update(_WINDOWS).where(_WINDOWS.c.id.in_(bindparam("ids", expanding=True))).values(mailed=True)
_HOLD_FOR_DIGEST = (
    update(_WINDOWS)
    .where(_WINDOWS.c.id.in_(bindparam("ids", expanding=True)))
    .values(coalesced=_WINDOWS.c.coalesced + 1, digest_pending=True)
)


def _count(connection: Connection, groups: list[_Group]) -> None:
    by_key = {g.key: g for g in groups}
    dialect = connection.dialect.name
    rows = [_window_values(g) for g in groups]
    if dialect == "postgresql":  # one list per column (`_unnested`)
        result = connection.execute(
            _upsert(dialect), {name: [r[name] for r in rows] for name in _WINDOW_COLUMNS}
        )
    else:
        result = connection.execute(_upsert(dialect), rows)
    for window_id, count, event_type, dedupe_key, bucket_start in result:
        group = by_key[(event_type, dedupe_key, bucket_start)]
        group.window_id, group.count = window_id, count


def _window_values(group: _Group) -> dict[str, Any]:
    event_type, dedupe_key, start = group.key
    repeats = len(group.events) - 1  # a new window's first event is settled by `_settle`
    return {
        "event_type": event_type,
        "dedupe_key": dedupe_key,
        "bucket_start": start,
        "closes_at": group.closes_at,
        "count": len(group.events),
        "coalesced": repeats,
        "first_at": group.events[0].received_at,
        "last_at": group.events[-1].received_at,
        "mailed": False,
        "digest_pending": repeats > 0,
    }


def _choose_mailed(connection: Connection, groups: list[_Group], max_mailed_keys: int) -> list[_Group]:
    """The new windows whose first event is mailed at once: at most `max_mailed_keys` per type."""
    fresh = [g for g in groups if g.fresh]
    if not fresh:
        return []
    buckets = list({(g.key[0], g.key[2]) for g in fresh})
    found = connection.execute(_MAILED_IN_BUCKETS, {"buckets": buckets})
    already = {(t, b): int(n) for t, b, n in found}
    chosen: list[_Group] = []
    for group in fresh:
        bucket = (group.key[0], group.key[2])
        if already.get(bucket, 0) < max_mailed_keys:
            already[bucket] = already.get(bucket, 0) + 1
            chosen.append(group)
    return chosen


def _settle(connection: Connection, groups: list[_Group], messages: dict[WindowKey, OutboxMessage]) -> None:
    """Mark the new windows mailed, or count their first event for the digest when it was not."""
    mailed = [g.window_id for g in groups if g.key in messages]
    held = [g.window_id for g in groups if g.fresh and g.key not in messages]
    if mailed:
        connection.execute(_MARK_MAILED, {"ids": mailed})
    if held:
        connection.execute(_HOLD_FOR_DIGEST, {"ids": held})


def _outcomes(
    groups: list[_Group], messages: dict[WindowKey, OutboxMessage], mailed: list[_Group]
) -> tuple[list[EventRecorded], list[dict[str, Any]]]:
    chosen = {g.key for g in mailed}
    recorded: list[EventRecorded] = []
    rows: list[dict[str, Any]] = []
    for group in groups:
        before = group.count - len(group.events)
        for position, event in enumerate(group.events):
            disposition: Disposition = "coalesced"
            outbox_id: str | None = None
            if position == 0 and group.key in messages:
                disposition, outbox_id = "mailed", messages[group.key].id
            elif position == 0 and group.key in chosen:
                disposition = "no_recipients"
            recorded.append(EventRecorded(event.id, disposition, outbox_id, before + position + 1))
            rows.append(_event_values(event, group.window_id, outbox_id, disposition))
    return recorded, rows


def _event_values(event: Event, window_id: int, outbox_id: str | None, disposition: str) -> dict[str, Any]:
    return {
        "id": event.id,
        "event_type": event.event_type,
        "dedupe_key": event.dedupe_key,
        "details": dict(event.details),
        "source": event.source,
        "node": event.node,
        "received_at": event.received_at,
        "window_id": window_id,
        "outbox_id": outbox_id,
        "disposition": disposition,
    }
