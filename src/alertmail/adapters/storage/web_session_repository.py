"""Web UI sessions in the `web_sessions` table: one row per signed-in browser, keyed by the SHA-256
of its cookie, so a copy of the database signs nobody in.

As elsewhere on SQLite, every write transaction starts with its write.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, delete, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alertmail.adapters.storage.models import AdministratorRow, UtcDateTime, WebSessionRow
from alertmail.domain.ports import WebSession
from alertmail.domain.records import Administrator
from alertmail.errors import NotFoundError

__all__ = ["SqlWebSessionRepository"]

Sessions = async_sessionmaker[AsyncSession]


class SqlWebSessionRepository:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add(self, session: WebSession) -> None:
        # INSERT ... SELECT: the administrator is named by username, and one removed meanwhile
        # inserts nothing instead of failing on the foreign key.
        owner = select(
            literal(session.id, Text()),
            AdministratorRow.id,
            literal(session.csrf_token, Text()),
            literal(session.created_at, UtcDateTime()),
            literal(session.last_seen_at, UtcDateTime()),
            literal(session.expires_at, UtcDateTime()),
            literal(session.user_agent, Text()),
        ).where(AdministratorRow.username == session.administrator.username)
        columns = [
            "id",
            "administrator_id",
            "csrf_token",
            "created_at",
            "last_seen_at",
            "expires_at",
            "user_agent",
        ]
        statement = insert(WebSessionRow).from_select(columns, owner).returning(WebSessionRow.id)
        async with self._sessions.begin() as db:
            if (await db.execute(statement)).scalar_one_or_none() is None:
                raise NotFoundError(f"there is no administrator named {session.administrator.username!r}")

    async def find(self, session_id: str) -> WebSession | None:
        statement = (
            select(WebSessionRow, AdministratorRow)
            .join(AdministratorRow, AdministratorRow.id == WebSessionRow.administrator_id)
            .where(WebSessionRow.id == session_id)
        )
        async with self._sessions() as db:
            found = (await db.execute(statement)).one_or_none()
        if found is None:
            return None
        row, admin = found
        return WebSession(
            id=row.id,
            administrator=Administrator(admin.username, admin.email, admin.created_at, admin.id),
            csrf_token=row.csrf_token,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            user_agent=row.user_agent,
        )

    async def touch(self, session_id: str, *, last_seen_at: datetime, expires_at: datetime) -> None:
        statement = (
            update(WebSessionRow)
            .where(WebSessionRow.id == session_id)
            .values(last_seen_at=last_seen_at, expires_at=expires_at)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as db:
            await db.execute(statement)

    async def delete(self, session_id: str) -> None:
        async with self._sessions.begin() as db:
            await db.execute(delete(WebSessionRow).where(WebSessionRow.id == session_id))

    async def delete_for_administrator(self, username: str, *, keep: str | None = None) -> None:
        owner = select(AdministratorRow.id).where(AdministratorRow.username == username).scalar_subquery()
        statement = delete(WebSessionRow).where(WebSessionRow.administrator_id == owner)
        if keep is not None:
            statement = statement.where(WebSessionRow.id != keep)
        async with self._sessions.begin() as db:
            await db.execute(statement)

    async def delete_expired(self, now: datetime) -> int:
        statement = delete(WebSessionRow).where(WebSessionRow.expires_at <= now).returning(WebSessionRow.id)
        async with self._sessions.begin() as db:
            return len((await db.execute(statement)).all())
