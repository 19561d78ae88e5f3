"""API tokens in the `api_tokens` table, found by the SHA-256 of the token: a copy of the database
holds no usable token. Revoking deletes the row.

As elsewhere on SQLite, every write transaction starts with its write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, String, Text, delete, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alertmail.adapters.storage.generation_repository import bump_in
from alertmail.adapters.storage.models import AdministratorRow, ApiTokenRow, UtcDateTime
from alertmail.domain.api_tokens import TokenScope
from alertmail.domain.records import ApiToken
from alertmail.errors import ConflictError, NotFoundError

__all__ = ["SqlApiTokenRepository"]

Sessions = async_sessionmaker[AsyncSession]
_TOUCH_INTERVAL = timedelta(minutes=1)  # how stale `last_used_at` may be
_COLUMNS = ["name", "administrator_id", "token_hash", "created_at", "scope", "expires_at"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SqlApiTokenRepository:
    """API tokens by hash; `find` records when a token was last used."""

    def __init__(self, sessions: Sessions, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._sessions = sessions
        self._clock = clock

    async def add(
        self,
        name: str,
        administrator: str,
        token_hash: str,
        *,
        scope: TokenScope = "admin",
        expires_at: datetime | None = None,
    ) -> ApiToken:
        now = self._clock()
        # INSERT ... SELECT: the write comes first and an unknown administrator inserts nothing.
        owner = select(
            literal(name, Text()),
            AdministratorRow.id,
            literal(token_hash, Text()),
            literal(now, UtcDateTime()),
            literal(scope, String()),
            literal(expires_at, UtcDateTime()),
        ).where(AdministratorRow.username == administrator)
        statement = insert(ApiTokenRow).from_select(_COLUMNS, owner).returning(ApiTokenRow.id)
        try:
            async with self._sessions.begin() as session:
                token_id = (await session.execute(statement)).scalar_one_or_none()
        except IntegrityError as exc:
            raise ConflictError(f"an API token named {name!r} already exists") from exc
        if token_id is None:
            raise NotFoundError(f"there is no administrator named {administrator!r}")
        return ApiToken(name, administrator, now, id=token_id, scope=scope, expires_at=expires_at)

    async def find(self, token_hash: str) -> ApiToken | None:
        """The token and its administrator; `last_used_at` is written at most once a minute.

        A read per API call and not a write: on SQLite every write queues for the one writer
        lock, which event ingestion needs (see bench/ingest.py).
        """
        query = _with_owner().where(ApiTokenRow.token_hash == token_hash)
        async with self._sessions() as session:
            found = (await session.execute(query)).one_or_none()
        if found is None:
            return None
        row, username = found
        now = self._clock()
        if row.last_used_at is None or now - row.last_used_at >= _TOUCH_INTERVAL:
            async with self._sessions.begin() as session:
                await session.execute(
                    update(ApiTokenRow).where(ApiTokenRow.id == row.id).values(last_used_at=now)
                )
            row.last_used_at = now
        return _token(row, username)

    async def list(self) -> Sequence[ApiToken]:
        async with self._sessions() as session:
            found = (await session.execute(_with_owner().order_by(ApiTokenRow.name))).all()
        return [_token(row, username) for row, username in found]

    async def remove(self, name: str) -> None:
        statement = delete(ApiTokenRow).where(ApiTokenRow.name == name).returning(ApiTokenRow.id)
        async with self._sessions.begin() as session:
            if (await session.execute(statement)).scalar_one_or_none() is None:
                raise NotFoundError(f"there is no API token named {name!r}")
            await bump_in(session)  # processes caching this token forget it


def _with_owner() -> Select[ApiTokenRow, str]:
    return select(ApiTokenRow, AdministratorRow.username).join(
        AdministratorRow, AdministratorRow.id == ApiTokenRow.administrator_id
    )


def _token(row: ApiTokenRow, username: str) -> ApiToken:
    scope: TokenScope = "events" if row.scope == "events" else "admin"
    return ApiToken(
        name=row.name,
        administrator=username,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        id=row.id,
        scope=scope,
        expires_at=row.expires_at,
    )
