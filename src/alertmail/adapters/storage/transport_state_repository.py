"""The transport state's one row (see domain/fallback.py): read, noted failures, switches, probes.

Every write is one conditional UPDATE (writes first: see repositories.py), so two nodes noting a
failure, taking a probe or switching at once never both win: a switch is a compare-and-set on
`generation`, a probe claim a compare-and-set on `next_probe_at`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, false, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alertmail.adapters.storage.models import TransportStateRow
from alertmail.domain.fallback import PrimaryFailure, TransportState, TransportSwitch
from alertmail.domain.schedule import AlreadyClaimedError

__all__ = ["SqlTransportStateRepository", "apply_switch"]

Sessions = async_sessionmaker[AsyncSession]
_ROW = TransportStateRow.id == 1


class SqlTransportStateRepository:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def load(self) -> TransportState:
        async with self._sessions() as session:
            row = await session.scalar(select(TransportStateRow).where(_ROW))
        return TransportState() if row is None else _state(row)

    async def primary_failed(
        self, at: datetime, failure: PrimaryFailure, threshold: timedelta
    ) -> TransportState:
        # domain/fallback.failure_run_start in one statement: a quiet period longer than the
        # threshold since the last failure (or the run's start, in a row from before) starts anew.
        last = func.coalesce(
            TransportStateRow.primary_last_failed_at, TransportStateRow.primary_failing_since
        )
        values = {
            "primary_failing_since": case(
                (last < at - threshold, at), else_=func.coalesce(TransportStateRow.primary_failing_since, at)
            ),
            "primary_last_failed_at": at,
            "failure_category": failure.category,
            "failure_message": failure.message[:2000],
            "failure_hint": failure.hint[:2000],
        }
        async with self._sessions.begin() as session:
            row = await session.scalar(_update(values).returning(TransportStateRow))
            return TransportState() if row is None else _state(row)

    async def primary_worked(self) -> None:
        cleared = {
            "primary_failing_since": None,
            "primary_last_failed_at": None,
            "failure_category": "",
            "failure_message": "",
            "failure_hint": "",
        }
        async with self._sessions.begin() as session:
            await session.execute(
                _update(cleared).where(TransportStateRow.primary_failing_since.is_not(None))
            )

    async def claim_probe(
        self, now: datetime, next_probe_at: datetime, *, due_or_not: bool = False
    ) -> TransportState | None:
        due = or_(
            TransportStateRow.next_probe_at.is_(None),
            TransportStateRow.next_probe_at <= now,
            true() if due_or_not else false(),
        )
        statement = (
            _update({"next_probe_at": next_probe_at})
            .where(TransportStateRow.active == "fallback", due)
            .returning(TransportStateRow)
        )
        async with self._sessions.begin() as session:
            row = await session.scalar(statement)
            return None if row is None else _state(row)

    async def switch(self, switch: TransportSwitch) -> bool:
        async with self._sessions.begin() as session:
            try:
                await apply_switch(session, switch)
            except AlreadyClaimedError:
                return False
        return True


async def apply_switch(session: AsyncSession, switch: TransportSwitch) -> None:
    """Switch inside `session`'s transaction, or raise `AlreadyClaimedError` (another node did)."""
    values: dict[str, Any] = {
        "active": switch.to,
        "active_since": switch.at,
        "next_probe_at": switch.next_probe_at,
        "generation": TransportStateRow.generation + 1,
    }
    if switch.to == "primary":
        values |= {
            "primary_failing_since": None,
            "primary_last_failed_at": None,
            "failure_category": "",
            "failure_message": "",
            "failure_hint": "",
        }
    statement = (
        _update(values)
        .where(TransportStateRow.generation == switch.expected_generation)
        .returning(TransportStateRow.id)
    )
    if (await session.execute(statement)).scalar_one_or_none() is None:
        raise AlreadyClaimedError(f"the transport state moved past generation {switch.expected_generation}")


def _update(values: dict[str, Any]) -> Any:
    return update(TransportStateRow).where(_ROW).values(**values).execution_options(synchronize_session=False)


def _state(row: TransportStateRow) -> TransportState:
    failure = (
        PrimaryFailure(row.failure_category, row.failure_message, row.failure_hint)
        if row.failure_category
        else None
    )
    return TransportState(
        active="fallback" if row.active == "fallback" else "primary",
        active_since=row.active_since,
        primary_failing_since=row.primary_failing_since,
        primary_last_failed_at=row.primary_last_failed_at,
        failure=failure,
        next_probe_at=row.next_probe_at,
        generation=row.generation,
    )
