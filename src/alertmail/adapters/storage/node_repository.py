"""The `nodes` table: every alertmail node on the shared database, its role and its heartbeat.

The rows say what each node last reported. Who is primary is decided by the advisory lock
(`primary_lock.py`); `is_primary` is the holder's own report of it, for status pages and for the
backups to know whose outage they are looking at.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import func, insert, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alertmail.adapters.storage.models import NodeRow
from alertmail.domain.ports import ClusterNode, NodeRole
from alertmail.errors import NotFoundError

__all__ = ["SqlNodeRepository"]


class SqlNodeRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def register(
        self, node: ClusterNode, *, instance_id: str, live_since: datetime | None
    ) -> ClusterNode | None:
        # Update in place, insert if new: a write first, so SQLite takes its write lock at once (a
        # read first could find the database locked), and nobody ever sees the row missing. The
        # administrator's backup-operations flag is not the node's to report: it is kept.
        values = {
            "hostname": node.hostname,
            "advertised_url": node.advertised_url,
            "version": node.version,
            "role": node.role,
            "started_at": node.started_at,
            "last_heartbeat": node.last_heartbeat,
            "is_primary": node.is_primary,
            "promote_requested": False,
            "instance_id": instance_id,
            "lock_session": None,
        }
        where = [NodeRow.node_id == node.node_id]
        if live_since is not None:  # the name is free, ours, or its holder's heartbeat is stale
            where.append(
                or_(
                    NodeRow.instance_id.is_(None),
                    NodeRow.instance_id == instance_id,
                    NodeRow.last_heartbeat < live_since,
                )
            )
        async with self._sessions.begin() as db:
            done = await db.execute(update(NodeRow).where(*where).values(**values).returning(NodeRow.node_id))
            if done.scalar_one_or_none() is not None:
                return None
            holder = await db.get(NodeRow, node.node_id)
            if holder is not None:
                return _node(holder)
            await db.execute(insert(NodeRow).values(node_id=node.node_id, **values))
        return None

    async def release_name(self, node_id: str, *, instance_id: str) -> None:
        async with self._sessions.begin() as db:
            await db.execute(
                update(NodeRow)
                .where(NodeRow.node_id == node_id, NodeRow.instance_id == instance_id)
                .values(instance_id=None)
            )

    async def heartbeat(self, node_id: str, *, now: datetime, is_primary: bool) -> None:
        async with self._sessions.begin() as db:
            await db.execute(
                update(NodeRow)
                .where(NodeRow.node_id == node_id)
                .values(last_heartbeat=now, is_primary=is_primary)
            )

    async def mark_primary(self, node_id: str, *, lock_session: int | None = None) -> None:
        async with self._sessions.begin() as db:
            await db.execute(
                update(NodeRow)
                .where(NodeRow.node_id == node_id)
                .values(is_primary=True, promote_requested=False, lock_session=lock_session)
            )
            await db.execute(
                update(NodeRow)
                .where(NodeRow.node_id != node_id, NodeRow.is_primary)
                .values(is_primary=False, lock_session=None)
            )

    async def list(self) -> list[ClusterNode]:
        async with self._sessions() as db:
            rows = (await db.execute(select(NodeRow).order_by(NodeRow.node_id))).scalars().all()
        return [_node(row) for row in rows]

    async def request_promotion(self, node_id: str) -> None:
        async with self._sessions.begin() as db:
            done = await db.execute(
                update(NodeRow)
                .where(NodeRow.node_id == node_id)
                .values(promote_requested=True)
                .returning(NodeRow.node_id)
            )
            if done.scalar_one_or_none() is None:
                raise _no_such_node(node_id)

    async def set_backup_operations(self, node_id: str, *, enabled: bool, now: datetime) -> ClusterNode:
        # One statement: disabled since the first time it was disabled, until enabled again.
        since = null() if enabled else func.coalesce(NodeRow.backup_disabled_since, now)
        async with self._sessions.begin() as db:
            row = (
                await db.execute(
                    update(NodeRow)
                    .where(NodeRow.node_id == node_id)
                    .values(backup_disabled_since=since)
                    .returning(NodeRow)
                )
            ).scalar_one_or_none()
            if row is None:
                raise _no_such_node(node_id)
            return _node(row)


def _no_such_node(node_id: str) -> NotFoundError:
    return NotFoundError(f"there is no node {node_id!r} (alertmail cluster status lists them)")


def _node(row: NodeRow) -> ClusterNode:
    return ClusterNode(
        node_id=row.node_id,
        hostname=row.hostname,
        advertised_url=row.advertised_url,
        version=row.version,
        role=cast(NodeRole, row.role),
        started_at=row.started_at,
        last_heartbeat=row.last_heartbeat,
        is_primary=row.is_primary,
        promote_requested=row.promote_requested,
        backup_disabled_since=row.backup_disabled_since,
        lock_session=row.lock_session,
    )
