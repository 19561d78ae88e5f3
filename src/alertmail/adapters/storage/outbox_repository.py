"""The outbox's storage: enqueue, claim under a lease, record the outcome, requeue.

Claiming is atomic on both databases, so two workers never hold one row:
- PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` picks due rows no other transaction holds, then
  `UPDATE ... RETURNING` leases them, in one transaction;
- SQLite: one conditional `UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING`. SQLite runs one
  writer at a time and the statement starts with its write lock (writes first, see repositories.py),
  so a second claimer waits for the busy timeout instead of failing.

A message's `dead_at` is set by every write that makes it dead (`mark_failed`, `mark_recipients`,
`cancel`) and cleared by the one that revives it (`retry`): it is set exactly while the status is dead.

Outcomes (`mark_sent`, `mark_failed`) apply only while the row is still leased by the worker that
reports them: a worker whose lease expired and was taken over cannot overwrite the new owner's result.
Owners must therefore be unique per worker (node id and a random suffix, say).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Select, Table, and_, func, insert, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alertmail.adapters.storage.models import OutboxRow
from alertmail.adapters.storage.outbox_columns import OUTBOX_COLUMNS, outbox_values, replies_values
from alertmail.domain.outbox import (
    OUTBOX_STATUSES,
    FailureStatus,
    HeldStatus,
    OutboxMessage,
    OutboxStatus,
    RecipientReply,
    RecipientsSettled,
    RecipientState,
    WaitingFor,
)
from alertmail.errors import ConflictError, NotFoundError

__all__ = ["CANCELLED", "SqlOutboxRepository", "outbox_message", "outbox_values"]

Sessions = async_sessionmaker[AsyncSession]
_RETRIABLE_BY_HAND = ("dead", "waiting_config")
_CANCELLABLE = ("queued", "retry_wait")
CANCELLED = "Cancelled by an administrator"
_TABLE: Table = OutboxRow.__table__  # type: ignore[assignment]


class SqlOutboxRepository:
    def __init__(self, sessions: Sessions, *, dialect: str) -> None:
        self._sessions = sessions
        self._dialect = dialect

    async def enqueue(self, message: OutboxMessage) -> OutboxMessage:
        """Store a new message; it is accepted once this returns (the row is committed)."""
        async with self._sessions.begin() as session:
            await session.execute(insert(OutboxRow).values(**outbox_values(message)))
        return message

    async def enqueue_many(self, messages: Sequence[OutboxMessage]) -> builtins.list[OutboxMessage]:
        """Store new messages in one transaction (group commit of local submissions)."""
        if messages:
            async with self._sessions.begin() as session:  # Core: one cached INSERT
                await session.execute(insert(_TABLE), [outbox_values(m) for m in messages])
        return list(messages)

    async def claim(
        self, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> builtins.list[OutboxMessage]:
        """Lease up to `limit` due messages to `owner` (status `sending`); each claim counts an attempt."""
        table = _TABLE
        leased = {
            "status": "sending",
            "lease_owner": owner,
            "lease_expires_at": now + lease,
            "attempts": table.c.attempts + 1,
        }
        async with self._sessions.begin() as session:
            if self._dialect == "postgresql":
                due_ids = (
                    select(OutboxRow.id).where(_due(now)).order_by(OutboxRow.next_attempt_at).limit(limit)
                )
                ids = (await session.scalars(due_ids.with_for_update(skip_locked=True))).all()
                if not ids:
                    return []
                chosen: ColumnElement[bool] = OutboxRow.id.in_(ids)
            else:
                # One statement: its subquery reads under the write lock the UPDATE holds, so the
                # rows it picks are still due when they are leased.
                chosen = OutboxRow.id.in_(_oldest_due_ids(now, limit).scalar_subquery())
            # Core rows, not mapped objects: nothing of them is kept in the session, and building
            # a hundred mapped objects a claim was a third of the claim's CPU (bench/drain.py).
            rows = await session.execute(update(table).where(chosen).values(**leased).returning(*table.c))
            messages = [outbox_message(row) for row in rows]
        return sorted(messages, key=lambda m: (m.next_attempt_at or now, m.created_at))

    async def mark_sent(self, id: str, owner: str, now: datetime) -> bool:
        """Record delivery; False (and nothing changed) when `owner` no longer holds the lease."""
        return await self._finish(id, owner, status="sent", sent_at=now, next_attempt_at=None)

    async def mark_sent_many(
        self, ids: Sequence[str], owner: str, now: datetime, *, transport: str = "primary"
    ) -> int:
        """Record a batch delivered through `transport`, in one transaction; how many were still
        leased by `owner`."""
        return await self._update_leased(
            ids,
            owner,
            status="sent",
            transport=transport,
            sent_at=now,
            next_attempt_at=None,
            lease_owner=None,
            lease_expires_at=None,
        )

    async def release_unattempted(
        self,
        ids: Sequence[str],
        owner: str,
        *,
        status: HeldStatus,
        next_attempt_at: datetime | None,
        waiting_for: WaitingFor | None = None,
    ) -> int:
        """Give back claimed messages that were never tried (the relay failed first).

        Their claim does not count as an attempt: the attempt counter is decremented again.
        """
        return await self._update_leased(
            ids,
            owner,
            status=status,
            next_attempt_at=next_attempt_at,
            attempts=OutboxRow.attempts - 1,
            lease_owner=None,
            lease_expires_at=None,
            **_waiting_values(waiting_for),
        )

    async def renew_leases(self, ids: Sequence[str], owner: str, until: datetime) -> int:
        """Extend `owner`'s leases of `ids` to `until`; how many it still held."""
        return await self._update_leased(ids, owner, lease_expires_at=until)

    async def mark_recipients(
        self,
        id: str,
        owner: str,
        settled: RecipientsSettled,
        *,
        now: datetime,
        last_error: str,
        last_category: str,
        transport: str = "primary",
    ) -> bool:
        """Record an attempt that reached some recipients and not others; False when the lease was lost."""
        return await self._finish(
            id,
            owner,
            transport=transport,
            status=settled.status,
            recipient_states=dict(settled.states),
            next_attempt_at=settled.next_attempt_at,
            sent_at=now if settled.status == "sent" else None,
            dead_at=now if settled.status == "dead" else None,
            recipient_replies=replies_values(settled.replies),
            last_error=last_error,
            last_category=last_category,
        )

    async def mark_failed(
        self,
        id: str,
        owner: str,
        *,
        now: datetime,
        status: FailureStatus,
        next_attempt_at: datetime | None,
        last_error: str,
        last_category: str,
        waiting_for: WaitingFor | None = None,
    ) -> bool:
        """Record a failed attempt (see `domain.outbox.decide`); False when the lease was lost."""
        return await self._finish(
            id,
            owner,
            status=status,
            dead_at=now if status == "dead" else None,
            next_attempt_at=next_attempt_at,
            last_error=last_error,
            last_category=last_category,
            **_waiting_values(waiting_for),
        )

    async def release_waiting(self, now: datetime) -> int:
        """Requeue every message waiting for the configuration; how many. After a save or sign-in."""
        async with self._sessions.begin() as session:
            ids = await session.scalars(
                update(OutboxRow)
                .where(OutboxRow.status == "waiting_config")
                .values(status="queued", next_attempt_at=now)
                .returning(OutboxRow.id)
                .execution_options(synchronize_session=False)
            )
            return len(ids.all())

    async def release_retrying(self, now: datetime) -> int:
        """Make every message waiting for a retry due now; how many. After a switch of transport:
        what waited out the old transport's backoff need not wait for the new one."""
        async with self._sessions.begin() as session:
            ids = await session.scalars(
                update(OutboxRow)
                .where(OutboxRow.status == "retry_wait", OutboxRow.next_attempt_at > now)
                .values(next_attempt_at=now)
                .returning(OutboxRow.id)
                .execution_options(synchronize_session=False)
            )
            return len(ids.all())

    async def release_changed(self, now: datetime, current: WaitingFor) -> int:
        """Requeue the messages waiting on a configuration other than `current`; how many."""
        changed = or_(
            OutboxRow.waiting_settings_version.is_(None),
            OutboxRow.waiting_settings_version != current.settings_version,
            OutboxRow.waiting_sign_in.is_distinct_from(current.sign_in),
        )
        async with self._sessions.begin() as session:
            ids = await session.scalars(
                update(OutboxRow)
                .where(OutboxRow.status == "waiting_config", changed)
                .values(status="queued", next_attempt_at=now, **_waiting_values(None))
                .returning(OutboxRow.id)
                .execution_options(synchronize_session=False)
            )
            return len(ids.all())

    async def retry(self, id: str, now: datetime) -> OutboxMessage:
        """Requeue a dead or waiting message by hand; its attempts are kept. The message as requeued."""
        async with self._sessions.begin() as session:
            row = await session.scalar(
                update(OutboxRow)
                .where(OutboxRow.id == id, OutboxRow.status.in_(_RETRIABLE_BY_HAND))
                .values(status="queued", next_attempt_at=now, dead_at=None, **_waiting_values(None))
                .returning(OutboxRow)
                .execution_options(synchronize_session=False)
            )
            if row is not None and "dead" in (row.recipient_states or {}).values():
                # By hand, the recipients given up on are tried again; those that got it are not.
                states = _revived(row.recipient_states)
                await session.execute(
                    update(OutboxRow).where(OutboxRow.id == id).values(recipient_states=states)
                )
                row.recipient_states = states
        if row is not None:
            return outbox_message(row)
        found = await self.get(id)
        if found is None:
            raise NotFoundError(f"There is no outbox message {id!r}")
        raise ConflictError(f"Outbox message {id!r} is {found.status}: only dead or waiting messages retry")

    async def cancel(self, id: str, now: datetime) -> OutboxMessage:
        """Give up a queued or retrying message by hand: dead, no attempt planned; it can be retried."""
        async with self._sessions.begin() as session:
            row = await session.scalar(
                update(OutboxRow)
                .where(OutboxRow.id == id, OutboxRow.status.in_(_CANCELLABLE))
                .values(status="dead", dead_at=now, next_attempt_at=None, last_error=CANCELLED)
                .returning(OutboxRow)
                .execution_options(synchronize_session=False)
            )
        if row is not None:
            return outbox_message(row)
        found = await self.get(id)
        if found is None:
            raise NotFoundError(f"There is no outbox message {id!r}")
        raise ConflictError(
            f"Outbox message {id!r} is {found.status}: only queued or retrying messages cancel"
        )

    async def get(self, id: str) -> OutboxMessage | None:
        async with self._sessions() as session:
            row = await session.get(OutboxRow, id, populate_existing=True)
        return None if row is None else outbox_message(row)

    async def list(
        self, status: OutboxStatus | None = None, limit: int = 100
    ) -> builtins.list[OutboxMessage]:
        """The newest messages first, optionally of one status."""
        query = select(OutboxRow).order_by(OutboxRow.created_at.desc(), OutboxRow.id).limit(limit)
        if status is not None:
            query = query.where(OutboxRow.status == status)
        async with self._sessions() as session:
            return [outbox_message(row) for row in await session.scalars(query)]

    async def counts(self) -> dict[OutboxStatus, int]:
        """How many messages are in each status, every status listed."""
        query = select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
        async with self._sessions() as session:
            found = {status: count for status, count in await session.execute(query)}
        return {status: found.get(status, 0) for status in OUTBOX_STATUSES}

    async def _update_leased(self, ids: Sequence[str], owner: str, **values: Any) -> int:
        """Apply `values` to the rows of `ids` that `owner` still leases; how many that was."""
        if not ids:
            return 0
        async with self._sessions.begin() as session:
            applied = await session.scalars(
                update(OutboxRow)
                .where(OutboxRow.id.in_(ids), OutboxRow.status == "sending", OutboxRow.lease_owner == owner)
                .values(**values)
                .returning(OutboxRow.id)
                .execution_options(synchronize_session=False)
            )
            return len(applied.all())

    async def _finish(self, id: str, owner: str, **values: Any) -> bool:
        async with self._sessions.begin() as session:
            applied = await session.scalar(
                update(OutboxRow)
                .where(OutboxRow.id == id, OutboxRow.status == "sending", OutboxRow.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None, **values)
                .returning(OutboxRow.id)
                .execution_options(synchronize_session=False)
            )
        return applied is not None


def _due(now: datetime) -> ColumnElement[bool]:
    """Waiting rows whose time has come, and rows whose worker let its lease expire."""
    return or_(
        and_(OutboxRow.status.in_(("queued", "retry_wait")), OutboxRow.next_attempt_at <= now),
        and_(OutboxRow.status == "sending", OutboxRow.lease_expires_at <= now),
    )


def _oldest_due_ids(now: datetime, limit: int) -> Select[tuple[str]]:
    """The ids of the `limit` due rows that have waited longest, for SQLite.

    Each kind of due row is read from the `(status, next_attempt_at)` index in order and stops at
    `limit`, and only those few are merged: asked as one `OR`, SQLite would collect every due row
    and sort them all, a cost that grows with the queue (issue #18).
    """
    kinds = [
        (OutboxRow.status == "queued") & (OutboxRow.next_attempt_at <= now),
        (OutboxRow.status == "retry_wait") & (OutboxRow.next_attempt_at <= now),
        (OutboxRow.status == "sending") & (OutboxRow.lease_expires_at <= now),
    ]
    oldest = [
        select(OutboxRow.id, OutboxRow.next_attempt_at)
        .where(kind)
        .order_by(OutboxRow.next_attempt_at)
        .limit(limit)
        for kind in kinds
    ]
    # SQLite takes no LIMIT inside a UNION's members: each is read through its own subquery.
    merged = union_all(
        *(select(part.c.id, part.c.next_attempt_at) for part in (o.subquery() for o in oldest))
    )
    due = merged.subquery()
    return select(due.c.id).order_by(due.c.next_attempt_at).limit(limit)


def _waiting_values(waiting_for: WaitingFor | None) -> dict[str, Any]:
    if waiting_for is None:
        return {"waiting_settings_version": None, "waiting_sign_in": None}
    return {"waiting_settings_version": waiting_for.settings_version, "waiting_sign_in": waiting_for.sign_in}


def _revived(states: Mapping[str, str]) -> dict[str, str]:
    return {recipient: "pending" if state == "dead" else state for recipient, state in states.items()}


def _replies(stored: Mapping[str, Mapping[str, Any]] | None) -> dict[str, RecipientReply]:
    return {
        address: RecipientReply(reply["code"], reply["text"]) for address, reply in (stored or {}).items()
    }


def outbox_message(row: OutboxRow | Row[Any]) -> OutboxMessage:
    """The message of a mapped row or of a Core row of every outbox column."""
    values = {name: getattr(row, name) for name in OUTBOX_COLUMNS}
    values["recipients"] = tuple(row.recipients)
    values["status"] = cast(OutboxStatus, row.status)
    values["recipient_states"] = cast(dict[str, RecipientState], dict(row.recipient_states or {}))
    values["recipient_replies"] = _replies(row.recipient_replies)
    return OutboxMessage(**values)
