"""The OAuth2 storage ports: the tokens (encrypted) and the sign-ins in progress (state hashed)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import fields, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alertmail.adapters.storage.leases import SqlLeases
from alertmail.adapters.storage.models import OAuthAuthorizationRow, OAuthTokenRow
from alertmail.adapters.storage.upsert import upsert_into
from alertmail.domain.oauth import OAuthTokens, PendingAuthorization
from alertmail.domain.ports import SecretBox

__all__ = ["SqlOAuthAuthorizationRepository", "SqlOAuthTokenRepository"]

Sessions = async_sessionmaker[AsyncSession]
TOKENS_ROW_ID = 1
_SECRET_COLUMNS = ("access_token", "refresh_token")
_TOKEN_COLUMNS = tuple(f.name for f in fields(OAuthTokens))
# Any fixed number: the key of the PostgreSQL advisory lock that serialises refreshes across nodes.
_REFRESH_LOCK_ID = 0x616D_0002
_REFRESH_LEASE = "oauth_refresh"
# Longer than a refresh can take (the OAuth2 client's HTTP timeout is 30 s).
REFRESH_LEASE_TTL = timedelta(seconds=45)


class SqlOAuthTokenRepository:
    def __init__(self, sessions: Sessions, secret_box: SecretBox, *, dialect: str) -> None:
        self._sessions = sessions
        self._box = secret_box
        self._dialect = dialect
        self._leases = SqlLeases(sessions, dialect=dialect)

    async def load(self) -> OAuthTokens | None:
        async with self._sessions() as session:
            row = await session.get(OAuthTokenRow, TOKENS_ROW_ID, populate_existing=True)
        return None if row is None else self._tokens(row)

    async def save(self, tokens: OAuthTokens) -> OAuthTokens:
        """Store new tokens whatever the row holds (a sign-in); the generation moves on."""
        saved = await self._write(tokens, expected=None)
        assert saved is not None  # an unconditional write always lands
        return saved

    async def save_if_current(self, tokens: OAuthTokens) -> OAuthTokens | None:
        """Store `tokens` only if the row is still the generation they were read from; else None."""
        return await self._write(tokens, expected=tokens.generation)

    async def mark_accepted(self, generation: int, at: datetime) -> None:
        """Record that the relay accepted the access token of `generation`, if it is still stored."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(OAuthTokenRow)
                .where(OAuthTokenRow.id == TOKENS_ROW_ID, OAuthTokenRow.generation == generation)
                .values(accepted_at=at)
                .execution_options(synchronize_session=False)
            )

    async def _write(self, tokens: OAuthTokens, *, expected: int | None) -> OAuthTokens | None:
        values = self._values(tokens)
        where = [OAuthTokenRow.id == TOKENS_ROW_ID]
        if expected is not None:
            where.append(OAuthTokenRow.generation == expected)
        async with self._sessions.begin() as session:
            # UPDATE first, INSERT when there was nothing: writes first, as SQLite needs.
            found = await session.execute(
                update(OAuthTokenRow)
                .where(*where)
                .values(**values, generation=OAuthTokenRow.generation + 1)
                .returning(OAuthTokenRow.generation)
                .execution_options(synchronize_session=False)
            )
            generation = found.scalar_one_or_none()
            if generation is None and expected in (None, 0):
                generation = await self._insert(session, values)
        return None if generation is None else replace(tokens, generation=generation)

    async def _insert(self, session: AsyncSession, values: dict[str, Any]) -> int | None:
        """The first tokens: None when a row appeared meanwhile (its writer came first)."""
        inserted = await session.execute(
            upsert_into(OAuthTokenRow, self._dialect)
            .values(id=TOKENS_ROW_ID, generation=1, **values)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(OAuthTokenRow.generation)
        )
        return inserted.scalar_one_or_none()

    async def delete(self) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(OAuthTokenRow))

    @asynccontextmanager
    async def refresh_lock(self) -> AsyncIterator[None]:
        """One refresh at a time across every process on the database: on PostgreSQL an advisory
        lock held by a transaction of its own, on SQLite a lease (`serve`, `worker` and the CLI
        share the file, and each process's own lock knows nothing of the others)."""
        if self._dialect != "postgresql":
            async with self._leases.held(_REFRESH_LEASE, ttl=REFRESH_LEASE_TTL, wait=REFRESH_LEASE_TTL):
                yield
            return
        async with self._sessions() as session, session.begin():
            await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _REFRESH_LOCK_ID})
            yield

    def _values(self, tokens: OAuthTokens) -> dict[str, Any]:
        # The generation is the row's to count, never the caller's to set.
        values: dict[str, Any] = {
            name: getattr(tokens, name) for name in _TOKEN_COLUMNS if name != "generation"
        }
        for name in _SECRET_COLUMNS:
            secret: SecretStr | None = values[name]
            values[name] = None if secret is None else self._box.encrypt(secret.get_secret_value())
        return values

    def _tokens(self, row: OAuthTokenRow) -> OAuthTokens:
        values: dict[str, Any] = {name: getattr(row, name) for name in _TOKEN_COLUMNS}
        for name in _SECRET_COLUMNS:
            token: str | None = values[name]
            values[name] = None if token is None else SecretStr(self._box.decrypt(token))
        return OAuthTokens(**values)


def _state_hash(state: str) -> str:
    # The state authorises a code exchange until it is used: like a password, keep only its hash.
    return hashlib.sha256(state.encode()).hexdigest()


class SqlOAuthAuthorizationRepository:
    def __init__(self, sessions: Sessions, secret_box: SecretBox) -> None:
        self._sessions = sessions
        self._box = secret_box

    async def add(self, pending: PendingAuthorization) -> None:
        row = OAuthAuthorizationRow(
            state_hash=_state_hash(pending.state),
            code_verifier=self._box.encrypt(pending.code_verifier.get_secret_value()),
            administrator=pending.administrator,
            redirect_uri=pending.redirect_uri,
            created_at=pending.created_at,
            expires_at=pending.expires_at,
            status=pending.status,
            message=pending.message,
            reason=pending.reason,
        )
        async with self._sessions.begin() as session:
            # Expired sign-ins are of no use to anyone: drop them as new ones start.
            await session.execute(
                delete(OAuthAuthorizationRow).where(OAuthAuthorizationRow.expires_at < pending.created_at)
            )
            session.add(row)

    async def claim(self, state: str, now: datetime) -> PendingAuthorization | None:
        # One conditional UPDATE: of two callbacks with the same state, exactly one gets the row.
        statement = (
            update(OAuthAuthorizationRow)
            .where(
                OAuthAuthorizationRow.state_hash == _state_hash(state),
                OAuthAuthorizationRow.status == "pending",
                OAuthAuthorizationRow.expires_at > now,
            )
            .values(status="claimed")
            .returning(OAuthAuthorizationRow)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            row = (await session.scalars(statement)).one_or_none()
            return None if row is None else self._pending(row, state)

    async def finish(self, state: str, *, succeeded: bool, message: str, reason: str) -> None:
        statement = (
            update(OAuthAuthorizationRow)
            .where(OAuthAuthorizationRow.state_hash == _state_hash(state))
            .values(status="succeeded" if succeeded else "failed", message=message, reason=reason)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            await session.execute(statement)

    async def get(self, state: str) -> PendingAuthorization | None:
        statement = select(OAuthAuthorizationRow).where(
            OAuthAuthorizationRow.state_hash == _state_hash(state)
        )
        async with self._sessions() as session:
            row = (await session.scalars(statement)).one_or_none()
            return None if row is None else self._pending(row, state)

    def _pending(self, row: OAuthAuthorizationRow, state: str) -> PendingAuthorization:
        return PendingAuthorization(
            state=state,
            code_verifier=SecretStr(self._box.decrypt(row.code_verifier)),
            administrator=row.administrator,
            redirect_uri=row.redirect_uri,
            created_at=row.created_at,
            expires_at=row.expires_at,
            status=row.status,  # type: ignore[arg-type]
            message=row.message,
            reason=row.reason,
        )
