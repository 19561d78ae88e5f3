"""The `node_checks` table: each node's latest failover-check results and their incidents.

Only the node itself writes its results (`record`); the primary writes only `mailed`, and only for
the incident it mailed (`since` must still match), so the two never undo each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alertmail.adapters.storage.models import NodeCheckRow
from alertmail.domain.cluster_checks import CheckResult, NodeCheck

__all__ = ["SqlNodeCheckRepository"]


class SqlNodeCheckRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(self, node_id: str, results: Sequence[CheckResult], *, now: datetime) -> None:
        async with self._sessions.begin() as db:
            # A write first (every row is checked now anyway): SQLite takes its write lock here,
            # waiting its turn, instead of failing a read-then-write when another writer came between.
            await db.execute(
                update(NodeCheckRow).where(NodeCheckRow.node_id == node_id).values(checked_at=now)
            )
            rows = (await db.execute(select(NodeCheckRow).where(NodeCheckRow.node_id == node_id))).scalars()
            known = {row.check_name: row for row in rows}
            for result in results:
                row = known.get(result.check)
                if row is None:
                    row = NodeCheckRow(node_id=node_id, check_name=result.check)
                    db.add(row)
                    check = NodeCheck.first(node_id, result, now)
                else:
                    check = _check(row).folded(result, now)
                _store(check, row)

    async def list(self) -> list[NodeCheck]:
        async with self._sessions() as db:
            rows = (
                await db.execute(select(NodeCheckRow).order_by(NodeCheckRow.node_id, NodeCheckRow.check_name))
            ).scalars()
            return [_check(row) for row in rows]

    async def mark_mailed(self, node_id: str, check: str, since: datetime, *, mailed: bool) -> None:
        async with self._sessions.begin() as db:
            await db.execute(
                update(NodeCheckRow)
                .where(
                    NodeCheckRow.node_id == node_id,
                    NodeCheckRow.check_name == check,
                    NodeCheckRow.since == since,
                )
                .values(mailed=mailed)
            )


def _store(check: NodeCheck, row: NodeCheckRow) -> None:
    row.failing, row.since, row.checked_at = check.failing, check.since, check.checked_at
    row.failures, row.mailed, row.details = check.failures, check.mailed, dict(check.details)


def _check(row: NodeCheckRow) -> NodeCheck:
    return NodeCheck(
        node_id=row.node_id,
        check=row.check_name,
        failing=row.failing,
        since=row.since,
        checked_at=row.checked_at,
        failures=row.failures,
        mailed=row.mailed,
        details={str(k): str(v) for k, v in row.details.items()},
    )
