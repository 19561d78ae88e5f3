"""The one device-code sign-in (row 1): started, polled, finished and cancelled by compare-and-set.

The row is shared by `serve` and any CLI process on the same database. Starting takes the row only
when no sign-in is in progress (pending or claimed, unexpired, its poller heard from lately); every
later change names the attempt it belongs to and the status it expects, so a poller whose sign-in
was cancelled or replaced finds out at its next poll and stops.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alertmail.adapters.storage.models import OAuthDeviceSignInRow
from alertmail.adapters.storage.upsert import upsert_into
from alertmail.domain.device_flow import DeviceSignIn, DeviceStatus, held_until
from alertmail.domain.ports import SecretBox

__all__ = ["SqlDeviceSignInRepository"]

_ROW_ID = 1
_IN_PROGRESS = ("pending", "claimed")


class SqlDeviceSignInRepository:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], secret_box: SecretBox, *, dialect: str
    ) -> None:
        self._sessions = sessions
        self._box = secret_box
        self._dialect = dialect

    async def start(self, sign_in: DeviceSignIn, now: datetime) -> DeviceSignIn | None:
        values = self._values(sign_in)
        row = OAuthDeviceSignInRow
        free = or_(row.status.not_in(_IN_PROGRESS), row.expires_at <= now, row.held_until <= now)
        async with self._sessions.begin() as session:
            taken = await session.execute(
                update(row)
                .where(row.id == _ROW_ID, free)
                .values(**values)
                .returning(row.attempt)
                .execution_options(synchronize_session=False)
            )
            if taken.scalar_one_or_none() is None and not await self._insert(session, values):
                return await self._current(session)
        return None

    async def get(self) -> DeviceSignIn | None:
        async with self._sessions() as session:
            return await self._current(session)

    async def polled(self, attempt: str, now: datetime, interval: float) -> DeviceStatus | None:
        row = OAuthDeviceSignInRow
        statement = (
            update(row)
            .where(row.id == _ROW_ID, row.attempt == attempt)
            .values(interval=interval, held_until=held_until(now, interval))
            .returning(row.status)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            status = (await session.execute(statement)).scalar_one_or_none()
        return None if status is None else status  # type: ignore[return-value]

    async def move(
        self, attempt: str, old: DeviceStatus, new: DeviceStatus, *, message: str = "", reason: str = ""
    ) -> bool:
        row = OAuthDeviceSignInRow
        statement = (
            update(row)
            .where(row.id == _ROW_ID, row.attempt == attempt, row.status == old)
            .values(status=new, message=message, reason=reason)
            .returning(row.id)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            return (await session.execute(statement)).scalar_one_or_none() is not None

    # --- rows ---------------------------------------------------------------------------------

    async def _insert(self, session: AsyncSession, values: dict[str, Any]) -> bool:
        inserted = await session.execute(
            upsert_into(OAuthDeviceSignInRow, self._dialect)
            .values(id=_ROW_ID, **values)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(OAuthDeviceSignInRow.id)
        )
        return inserted.scalar_one_or_none() is not None

    async def _current(self, session: AsyncSession) -> DeviceSignIn | None:
        found = await session.get(OAuthDeviceSignInRow, _ROW_ID, populate_existing=True)
        return None if found is None else self._sign_in(found)

    def _values(self, sign_in: DeviceSignIn) -> dict[str, Any]:
        return {
            "attempt": sign_in.attempt,
            "administrator": sign_in.administrator,
            "device_code": self._box.encrypt(sign_in.device_code.get_secret_value()),
            "user_code": sign_in.user_code,
            "verification_uri": sign_in.verification_uri,
            "verification_uri_complete": sign_in.verification_uri_complete,
            "interval": sign_in.interval,
            "created_at": sign_in.created_at,
            "expires_at": sign_in.expires_at,
            "held_until": sign_in.held_until,
            "status": sign_in.status,
            "message": sign_in.message,
            "reason": sign_in.reason,
        }

    def _sign_in(self, row: OAuthDeviceSignInRow) -> DeviceSignIn:
        return DeviceSignIn(
            attempt=row.attempt,
            administrator=row.administrator,
            device_code=SecretStr(self._box.decrypt(row.device_code)),
            user_code=row.user_code,
            verification_uri=row.verification_uri,
            verification_uri_complete=row.verification_uri_complete,
            interval=row.interval,
            created_at=row.created_at,
            expires_at=row.expires_at,
            held_until=row.held_until,
            status=row.status,  # type: ignore[arg-type]
            message=row.message,
            reason=row.reason,
        )
